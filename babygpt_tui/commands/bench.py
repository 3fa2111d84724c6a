"""`babygpt-tui bench`: decode/prefill speed of the engine against the original loop, HF and the floor.

The measuring code is the package's `babygpt_tui.bench` (so this works from any install); the
repository's benchmarks/ scripts run the same code. Hidden knob for tests and quick looks:
BABYGPT_TUI_BENCH_REFERENCE sets the random-weight model's size ("off" skips it), e.g.
"vocab_size=64,block_size=32,n_embd=32,n_layer=2,n_head=2".
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import UserError
from .common import bundled_model_path

REFERENCE_ENV = "BABYGPT_TUI_BENCH_REFERENCE"
PIPE_WIDTH = 150


def parse_reference(spec: str | None):
    """None/"" => the upstream size; "off" => no reference model; "k=v,..." => those dimensions."""
    from ..bench.suite import REFERENCE
    from ..engine.model import ModelConfig

    spec = (spec or "").strip()
    if not spec or spec == "upstream":
        return REFERENCE
    if spec.lower() in ("off", "none", "0"):
        return None
    try:
        dims = {k.strip(): int(v) for k, v in (part.split("=", 1) for part in spec.split(","))}
        return ModelConfig(**dims)
    except (ValueError, TypeError) as e:
        raise UserError(
            f"reference model {spec!r}: {e} (expected e.g. vocab_size=64,block_size=32,n_embd=32,"
            "n_layer=2,n_head=2, or off)"
        ) from None


def options_from_args(args: argparse.Namespace):
    import torch

    from ..bench.suite import ENGINE_DTYPES, QUICK_REPS, REPS, Options
    from ..engine.device import dtype_name, resolve_device, resolve_dtype

    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads = {threads} must be at least 1")
        torch.set_num_threads(threads)
    device = resolve_device(getattr(args, "device", None) or "auto")
    extra = None
    if getattr(args, "dtype", None):
        extra = dtype_name(resolve_dtype(args.dtype, device))
        extra = None if extra in ENGINE_DTYPES else extra
    reps = getattr(args, "reps", None) or (QUICK_REPS if args.quick else REPS)
    if reps < 1:
        raise UserError(f"--reps = {reps} must be at least 1")
    model = getattr(args, "model", None)
    reference = getattr(args, "reference", None) or os.environ.get(REFERENCE_ENV)
    return Options(
        device=device,
        reps=reps,
        quick=bool(args.quick),
        reference=parse_reference(reference),
        model_path=Path(model) if model else bundled_model_path(),
        model_label=f"--model {Path(model).name}" if model else "bundled model",
        model_optional=not model,
        vocab_from=getattr(args, "vocab_from", None),
        extra_dtype=extra,
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..bench.report import render, to_markdown, write_json
    from ..bench.suite import run_bench

    options = options_from_args(args)
    json_dest = getattr(args, "json", None)
    # With `--json -` stdout carries only the JSON document; the table goes to stderr.
    console = Console(stderr=json_dest == "-")
    if not console.is_terminal:
        console = Console(stderr=json_dest == "-", width=PIPE_WIDTH)  # a file or pipe gets whole rows
    err = Console(stderr=True)
    doc = run_bench(options, progress=lambda msg: err.print(f"… {msg}", style="dim", markup=False, highlight=False))
    render(doc, console)
    if json_dest:
        write_json(doc, json_dest)
        if json_dest != "-":
            err.print(f"wrote {json_dest}", highlight=False)
    markdown = getattr(args, "markdown", None)
    if markdown:
        Path(markdown).write_text(to_markdown(doc), encoding="utf-8")
        err.print(f"wrote {markdown}", highlight=False)
    return 0
