"""Decode/prefill benchmark: our engine vs the original loop, HF generate and the matmul floor.

    python benchmarks/bench_decode.py [--quick] [--json PATH|-] [--markdown PATH] [--reps N]
                                      [--reference off|vocab_size=..,block_size=..,...] [--model PATH]

Same code and output as `babygpt-tui bench`; this script adds the knobs the command hides.
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401  (repo root on sys.path for a fresh clone)

from babygpt_tui.cli import USAGE_ERROR, _add_model_args
from babygpt_tui.commands.bench import run
from babygpt_tui.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_model_args(p)
    p.add_argument("--json", metavar="PATH", nargs="?", const="-", help="also write JSON (to PATH or stdout)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5, 3 with --quick)")
    p.add_argument(
        "--reference",
        default=None,
        help="size of the random-weight model: 'upstream' (default), 'off', or "
        "vocab_size=..,block_size=..,n_embd=..,n_layer=..,n_head=..",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as Markdown (for the README)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"bench_decode: error: {e}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
