"""`babygpt-tui train --nproc N`: start N data-parallel processes with PyTorch's own launcher
(torchrun's `torch.distributed.run`, standalone rendezvous on this machine), each running
`python -m babygpt_tui train ...` with the same settings.

The launcher runs in this process, so its outcome becomes one exit code: rank 0 prints its own
progress and errors; a failure of another rank is reported in one line here. Ctrl+C reaches the
launcher, which forwards it to every process; they stop at the same step and rank 0 saves.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys

from ..engine.train import TrainConfig
from ..errors import UserError

CHILD_MARK = "BABYGPT_TUI_LAUNCHED"  # set in the children: a --nproc inside them is a mistake
INTERRUPTED = 130


def child_argv(cfg: TrainConfig, quiet: bool) -> list[str]:
    """Flags that give a child process exactly `cfg`: those of the fields that differ from their
    defaults (each such field has a flag of the same name)."""
    argv: list[str] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value == f.default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif value is not None:  # --flag=value: a value may start with "-"
            argv.append(f"{flag}={value!r}" if isinstance(value, float) else f"{flag}={value}")
    return argv + (["--quiet"] if quiet else [])


def threads_per_process(cfg: TrainConfig, nproc: int) -> int:
    return cfg.threads or max(1, (os.cpu_count() or 1) // nproc)


def launch(cfg: TrainConfig, nproc: int, quiet: bool) -> int:
    if os.environ.get(CHILD_MARK) or "LOCAL_RANK" in os.environ:
        raise UserError("--nproc starts torchrun itself; drop it when running under torchrun")
    if nproc < 1:
        raise UserError(f"--nproc = {nproc} must be at least 1")
    cfg.validate()  # a bad flag is one line here, not one per process
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # Threads per process: torchrun would set 1 (and warn); share the cores instead.
    os.environ["OMP_NUM_THREADS"] = str(threads_per_process(cfg, nproc))
    os.environ[CHILD_MARK] = "1"
    # The launcher's own log lines (rendezvous, "failed (exitcode: 2)", tracebacks of the
    # children's exits) would bury the children's one-line errors: keep only what we report.
    # torch's elastic loggers each set their own level, so quiet every one of them.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    args = parse_args(  # type: ignore[no-untyped-call]  # torch.distributed.run has no annotations
        ["--standalone", f"--nproc-per-node={nproc}", "--module", "babygpt_tui", "train", *child_argv(cfg, quiet)]
    )
    try:
        run(args)  # type: ignore[no-untyped-call]  # as above
    except SignalException:
        return INTERRUPTED
    except ChildFailedError as e:
        return _failure_code(e)
    finally:
        os.environ.pop(CHILD_MARK, None)
    return 0


def _failure_code(e: object) -> int:
    """Rank 0 has printed its own error: pass its exit code on. Another rank failing alone
    (rank 0 ended or was stopped) gets one line here."""
    failures = getattr(e, "failures", {})
    first = failures.get(0)
    if first is not None and first.exitcode > 0:
        return int(first.exitcode)
    rank, failure = min(failures.items()) if failures else (-1, None)
    code = getattr(failure, "exitcode", 1)
    if code == INTERRUPTED:
        return INTERRUPTED
    print(
        f"babygpt-tui: error: training process rank {rank} failed (exit code {code}); its messages are above",
        file=sys.stderr,
    )
    return 1
