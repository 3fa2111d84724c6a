"""Run by test_train_ddp.py under torchrun (one copy per rank): train with the settings given
as JSON, and write what this rank saw — its rank, a digest of the parameters after every step,
the files it wrote — to TRACE_DIR/rank<N>.json.

Usage: torchrun --standalone --nproc_per_node 2 ddp_worker.py '<TrainConfig JSON>' TRACE_DIR
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from babygpt_tui.engine.train import TrainConfig, Trainer


def digest(trainer: Trainer) -> str:
    h = hashlib.sha256()
    for name, p in sorted(trainer.model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    cfg = TrainConfig(**json.loads(sys.argv[1]))
    trace = Path(sys.argv[2])
    trainer = Trainer(cfg)
    steps: list[dict[str, object]] = []
    trainer.after_step = lambda t: steps.append({"iter": t.iter, "digest": digest(t)})
    try:
        trainer.run()
    finally:
        trainer.close()
    record = {
        "rank": trainer.world.rank,
        "world_size": trainer.world.size,
        "grad_accum": trainer.grad_accum,
        "steps": steps,
        "written": sorted(str(p) for p in trainer.written),
    }
    (trace / f"rank{trainer.world.rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
