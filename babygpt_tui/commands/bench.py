"""`babygpt-tui bench [engine|tui|floor]`: the one home of the benchmarks (`babygpt_tui/bench/`).

- engine (default): decode/prefill speed of the engine against the original loop, HF and the floor;
- tui: the TUI's decode rate against the bare engine, slider latency and cold start;
- floor: the memory-bandwidth floor of the reference model alone;
- train: training tokens/s of 1 process vs 2 data-parallel processes (bench/train_ddp.py);
- explain: the TUI's decode speed with the sampler pipeline view open vs closed (bench/explain.py).

Each is also `python -m babygpt_tui.bench.<suite|tui|floor>`. Knob for tests and quick looks:
BABYGPT_TUI_BENCH_REFERENCE (or --reference) sets the random-weight model's size ("off" skips it),
e.g. "vocab_size=64,block_size=32,n_embd=32,n_layer=2,n_head=2".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from .common import bundled_model_path

if TYPE_CHECKING:
    from ..bench.suite import Options
    from ..bench.tui import TuiOptions
    from ..engine.model import ModelConfig

REFERENCE_ENV = "BABYGPT_TUI_BENCH_REFERENCE"
PIPE_WIDTH = 150
BENCHMARKS = ("engine", "tui", "floor", "serve", "train", "explain")  # `babygpt-tui bench WHAT`


def parse_reference(spec: str | None) -> ModelConfig | None:
    """None/"" => the upstream size; "off" => no reference model; "k=v,..." => those dimensions."""
    from ..engine.model import ModelConfig
    from ..engine.reference import REFERENCE

    spec = (spec or "").strip()
    if not spec or spec == "upstream":
        return REFERENCE
    if spec.lower() in ("off", "none", "0"):
        return None
    try:
        dims: dict[str, Any] = {k.strip(): int(v) for k, v in (part.split("=", 1) for part in spec.split(","))}
        return ModelConfig(**dims)
    except (ValueError, TypeError) as e:
        raise UserError(
            f"reference model {spec!r}: {e} (expected e.g. vocab_size=64,block_size=32,n_embd=32,"
            "n_layer=2,n_head=2, or off)"
        ) from None


def _set_threads(args: argparse.Namespace) -> None:
    import torch

    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads = {threads} must be at least 1")
        torch.set_num_threads(threads)


def _reps(args: argparse.Namespace, default: int, quick: int) -> int:
    reps: int = getattr(args, "reps", None) or (quick if args.quick else default)
    if reps < 1:
        raise UserError(f"--reps = {reps} must be at least 1")
    return reps


def options_from_args(args: argparse.Namespace) -> Options:
    from ..bench.suite import QUICK_REPS, REPS, Options
    from ..bench.targets import ENGINE_DTYPES
    from ..engine.device import dtype_name, resolve_device, resolve_dtype

    _set_threads(args)
    device = resolve_device(getattr(args, "device", None) or "auto")
    extra = None
    if getattr(args, "dtype", None):
        extra = dtype_name(resolve_dtype(args.dtype, device))
        extra = None if extra in ENGINE_DTYPES else extra
    reps = _reps(args, REPS, QUICK_REPS)
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
        compile=bool(getattr(args, "compile", False)),
    )


def run(args: argparse.Namespace) -> int:
    what = getattr(args, "what", None) or "engine"
    if what == "tui":
        return run_tui(args)
    if what == "explain":
        return run_explain(args)
    if what == "floor":
        return run_floor(args)
    if what == "serve":
        return run_serve(args)
    if what == "train":  # training tokens/s, 1 vs 2 processes: its own module
        from ..bench.train_ddp import main as train_bench

        return train_bench(bool(args.quick), getattr(args, "json", None))
    return run_engine(args)


def run_engine(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..bench.report import render, to_markdown, write_json, write_report
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
        write_report(markdown, to_markdown(doc))
        err.print(f"wrote {markdown}", highlight=False)
    return 0


def run_tui(args: argparse.Namespace) -> int:
    from ..bench.report import write_json
    from ..bench.tui import render_tui_bench, run_tui_bench

    options = _tui_options(args, 1500, 300)
    doc = run_tui_bench(options, progress=lambda msg: print(f"… {msg}", file=sys.stderr))
    print(render_tui_bench(doc))
    if json_dest := getattr(args, "json", None):
        write_json(doc, json_dest)
    return 0


def _tui_options(args: argparse.Namespace, tokens: int, quick_tokens: int) -> TuiOptions:
    """The model, threads, dtype and size of a benchmark that runs the TUI (tui, explain)."""
    from ..bench.tui import TuiOptions

    model = getattr(args, "model", None) or str(bundled_model_path())
    if not Path(model).exists():
        raise UserError(f"{model}: no such model file (bench {args.what} generates with it); pass --model PATH")
    threads = getattr(args, "threads", None) or 0
    if threads < 0:
        raise UserError(f"--threads = {threads} must be at least 1")
    return TuiOptions(
        model=model,
        reps=_reps(args, 3, 1),
        tokens=getattr(args, "tokens", None) or (quick_tokens if args.quick else tokens),
        presses=10 if args.quick else 30,
        dtype=getattr(args, "dtype", None) or "float32",
        threads=threads,
    )


def run_explain(args: argparse.Namespace) -> int:
    from ..bench.explain import render_explain_bench, run_explain_bench
    from ..bench.report import write_json

    doc = run_explain_bench(_tui_options(args, 1500, 300), progress=lambda msg: print(f"… {msg}", file=sys.stderr))
    print(render_explain_bench(doc))
    if json_dest := getattr(args, "json", None):
        write_json(doc, json_dest)
    return 0


def run_floor(args: argparse.Namespace) -> int:
    import statistics

    import torch

    from ..bench.floor import Floor

    _set_threads(args)
    reference = parse_reference(getattr(args, "reference", None) or os.environ.get(REFERENCE_ENV))
    if reference is None:
        raise UserError("bench floor measures the reference model: --reference off leaves nothing to measure")
    steps, reps = (50 if args.quick else 200), _reps(args, 5, 3)
    print(
        f"floor of {reference.n_layer}x{reference.n_embd}, vocab {reference.vocab_size}: "
        f"{torch.get_num_threads()} torch threads, median of {reps}"
    )
    for dtype in (torch.float32, torch.bfloat16):
        floor = Floor(reference, dtype)
        floor.steps_per_s(16)  # warm-up
        rate = statistics.median(floor.steps_per_s(steps) for _ in range(reps))
        mb = floor.bytes_per_step / 1e6
        name = str(dtype).removeprefix("torch.")
        print(f"  {name:9} {rate:8,.0f} tok/s · {mb:.1f} MB per token · {rate * mb / 1e3:.1f} GB/s of weights")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        import openai  # noqa: F401  (the client the benchmark drives the server with)
    except ImportError:
        raise UserError("bench serve drives the server with the openai client: pip install openai") from None
    from ..bench.report import write_json
    from ..bench.serve import ServeBenchOptions, render_serve_bench, run_serve_bench

    _set_threads(args)
    model = getattr(args, "model", None)
    options = ServeBenchOptions(
        model=Path(model) if model else bundled_model_path(),
        vocab_from=getattr(args, "vocab_from", None),
        dtype=getattr(args, "dtype", None) or "auto",
        threads=getattr(args, "threads", None) or 0,
        tokens=getattr(args, "tokens", None) or (200 if args.quick else 500),
        reps=_reps(args, 5, 2),
    )
    doc = run_serve_bench(options, progress=lambda msg: print(f"… {msg}", file=sys.stderr))
    print(render_serve_bench(doc))
    if json_dest := getattr(args, "json", None):
        write_json(doc, json_dest)
    return 0
