"""The original BabyGPT generation loop (per-head torch.cat KV cache, mask rebuilt every step).

The implementation is `babygpt_tui/bench/original_loop.py` (re-exported here); run this file to
check that it and our engine produce the same greedy tokens on identical weights, and see both
speeds:  python benchmarks/original_loop.py [--tokens 300] [--tiny]
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401

from babygpt_tui.bench.original_loop import FeedFoward, Head, OriginalBabyGPT, OriginalLoop  # noqa: F401  (re-export)


def main(argv: list[str] | None = None) -> int:
    from babygpt_tui.api import GenerationRequest, SamplingParams
    from babygpt_tui.bench.cases import engine_generator
    from babygpt_tui.bench.suite import REFERENCE, random_subject
    from babygpt_tui.bench.timing import decode_rate
    from babygpt_tui.engine.model import ModelConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=300, help="new tokens (past block_size crops)")
    p.add_argument("--tiny", action="store_true", help="a 2-layer, 32-wide model instead of the upstream size")
    args = p.parse_args(argv)
    cfg = ModelConfig(vocab_size=64, block_size=32, n_embd=32, n_layer=2, n_head=4) if args.tiny else REFERENCE
    subject = random_subject(cfg)
    prompt = "".join(subject.tokenizer.chars[1:9])
    ids = subject.tokenizer.encode(prompt).ids
    loop = OriginalLoop(OriginalBabyGPT.from_state_dict(cfg, subject.model.state_dict()))
    theirs, stamps = loop.generate(ids, args.tokens)
    gen = engine_generator(subject.model, subject.tokenizer, "cpu", "float32")
    request = GenerationRequest(
        prompt, SamplingParams(temperature=0.0, max_new_tokens=args.tokens), context_keep=cfg.block_size - 1
    )
    run = gen.stream(request)
    ours = [ev.id for ev in run]
    same = ours == theirs
    print(f"greedy tokens identical: {same} ({args.tokens} tokens, block {cfg.block_size})")
    print(
        f"original loop {decode_rate(stamps):,.0f} tok/s · engine (context_keep block-1, a full forward per "
        f"token once past block) {run.stats.decode_tokens_per_s:,.0f} tok/s"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
