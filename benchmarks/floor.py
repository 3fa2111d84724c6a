"""The memory-bandwidth floor: only the weight matmuls of one decode step, in a tight loop.

The implementation is `babygpt_tui/bench/floor.py` (re-exported here); run this file for the
floor alone:  python benchmarks/floor.py [--steps 200]
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401

from babygpt_tui.bench.floor import Floor  # noqa: F401  (re-export)


def main(argv: list[str] | None = None) -> int:
    import statistics

    import torch

    from babygpt_tui.bench.suite import REFERENCE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    print(f"{torch.get_num_threads()} torch threads")
    for dtype in (torch.float32, torch.bfloat16):
        floor = Floor(REFERENCE, dtype)
        floor.steps_per_s(16)  # warm-up
        rate = statistics.median(floor.steps_per_s(args.steps) for _ in range(args.reps))
        mb = floor.bytes_per_step / 1e6
        print(
            f"{str(dtype).removeprefix('torch.'):9} {rate:8,.0f} tok/s · {mb:.1f} MB per token · "
            f"{rate * mb / 1e3:.1f} GB/s of weights"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
