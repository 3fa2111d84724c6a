"""One benchmark run: which models, which cases, the ratios and the PASS/MISS of the targets.

The result is a plain JSON-ready dict (`run_bench`); report.py turns it into tables.
"""

from __future__ import annotations

import datetime
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..api import TOP_ALTERNATIVES
from ..engine.autodtype import choose_cpu_dtype
from ..engine.checkpoint import load_checkpoint, save_checkpoint
from ..engine.device import dtype_name, resolve_dtype
from ..engine.generate import Generator
from ..engine.model import BabyGPT, ModelConfig
from ..engine.reference import REFERENCE
from ..engine.tokenizer import CharTokenizer
from .cases import (
    TUI_PARAMS,
    Plan,
    engine_forward_case,
    engine_generator,
    engine_stream_case,
    floor_case,
    hf_case,
    original_case,
)
from .compiled import compiled_cases, startup
from .hf_baseline import transformers_version
from .outside import outside_case
from .quality import quality
from .targets import ENGINE_DTYPES, evaluate
from .timing import Case, measure, skipped_case

SCHEMA_VERSION = 2  # 2: int8 rows, rows from outside, quality, issue 17's targets
REPS, QUICK_REPS = 5, 3
FLOOR_DTYPES = (torch.float32, torch.bfloat16, torch.int8)


@dataclass
class Options:
    device: torch.device
    reps: int = REPS
    quick: bool = False
    reference: ModelConfig | None = REFERENCE  # None: skip the random-weight model
    model_path: Path | None = None  # the trained model to measure as well
    model_label: str = "bundled model"
    model_optional: bool = True  # the bundled model may not exist yet; a --model must
    vocab_from: str | None = None
    extra_dtype: str | None = None  # --dtype other than float32/bfloat16 adds an engine row
    compile: bool = False  # --compile: compiled-step rows and launch times (bench/compiled.py)


@dataclass
class Subject:
    name: str
    source: str
    model: BabyGPT  # float32 on the CPU, not fused; every case makes what it needs from it
    tokenizer: CharTokenizer
    path: Path | None = None  # its checkpoint, for the rows measured from outside (None: saved first)


def random_subject(cfg: ModelConfig, seed: int = 0) -> Subject:
    torch.manual_seed(seed)
    model = BabyGPT(cfg)
    model.init_weights(seed)
    # A synthetic vocabulary of the right size: "\n" plus CJK characters (speed only).
    chars = ["\n"] + [chr(0x4E00 + i) for i in range(cfg.vocab_size - 1)]
    size = "upstream size" if cfg == REFERENCE else "custom size"
    return Subject("reference", f"random weights, {size}", model.eval(), CharTokenizer(chars))


def file_subject(path: Path, label: str, vocab_from: str | None) -> Subject:
    loaded = load_checkpoint(path, vocab_from)
    # A model.pth needs its corpus to load: the rows from outside only take native files.
    native = path.suffix == ".safetensors" and vocab_from is None
    return Subject(label, str(path), loaded.model.float().eval(), loaded.tokenizer, path if native else None)


def build_cases(
    subject: Subject, plan: Plan, device: torch.device, extra_dtype: str | None, workdir: Path, quick: bool = False
) -> tuple[list[Case], dict[str, Generator]]:
    model, tok = subject.model, subject.tokenizer
    cases: list[Case] = []
    dtypes = list(ENGINE_DTYPES) + ([extra_dtype] if extra_dtype and extra_dtype not in ENGINE_DTYPES else [])
    gens: dict[str, Generator] = {}
    for dtype in dtypes:
        try:
            gens[dtype] = engine_generator(model, tok, device, dtype)
        except (RuntimeError, TypeError) as e:
            cases.append(skipped_case(f"engine_{dtype}", "engine", dtype, f"skipped: {e}"))
            continue
        cases.append(engine_stream_case(f"engine_{dtype}", "engine", gens[dtype], plan, with_prefill=True))
    if device.type == "cpu":
        path = subject.path
        if path is None:
            path = save_checkpoint(workdir / f"{subject.name}.safetensors", model, tok)
        # --quick: a fresh generate process per run has nothing to warm but the page cache
        cases += [outside_case(f"outside_{dtype}", path, dtype, plan, warm_up=not quick) for dtype in gens]
    if "float32" in gens:
        g = gens["float32"]
        cases += [
            engine_forward_case("engine_forward_only", "engine, forward only", g, plan),
            engine_stream_case(
                "engine_top_alternatives",
                f"engine + top-{TOP_ALTERNATIVES} alternatives",
                g,
                plan,
                top_alternatives=TOP_ALTERNATIVES,
            ),
            engine_stream_case(
                "engine_tui_settings",
                "engine, all warpers + alternatives",
                g,
                plan,
                params=TUI_PARAMS,
                top_alternatives=TOP_ALTERNATIVES,
            ),
            engine_stream_case(
                "engine_long",
                f"engine, long run ({plan.long_n} tokens)",
                g,
                plan,
                n=plan.long_n,
                warmup_n=model.config.block_size - len(plan.prompt_ids) + 4,
            ),  # one shift
        ]
    cases.append(original_case(model, plan, device))
    cases.append(hf_case(model, plan, device))
    for floor_dtype in FLOOR_DTYPES:
        try:
            cases.append(floor_case(model, plan, device, floor_dtype))
        except RuntimeError as e:
            name = dtype_name(floor_dtype)
            cases.append(skipped_case(f"floor_{name}", "floor: weight matmuls only", name, f"skipped: {e}"))
    return cases, gens


def row(case: Case) -> dict[str, Any]:
    return {
        "key": case.key,
        "label": case.label,
        "dtype": case.dtype,
        "decode_tok_s": case.median("decode"),
        "prefill_tok_s": case.median("prefill"),
        "decode_samples": case.values("decode"),
        "prefill_samples": case.values("prefill"),
        "note": case.note,
        "skipped": case.skipped,
    }


def bench_subject(subject: Subject, options: Options, progress: Callable[[str], None]) -> dict[str, Any]:
    plan = Plan.for_model(subject.model, subject.tokenizer)
    cfg = subject.model.config
    progress(
        f"{subject.name}: {cfg.n_layer} layers x {cfg.n_embd} wide, vocab {cfg.vocab_size}, block {cfg.block_size}"
    )
    with tempfile.TemporaryDirectory(prefix="babygpt-bench-") as workdir:
        cases, gens = build_cases(subject, plan, options.device, options.extra_dtype, Path(workdir), options.quick)
        if options.compile:
            progress(f"{subject.name}: compiling the decode step (float32, int8)")
            cases += compiled_cases(subject.model, subject.tokenizer, options.device, plan)
        measure(cases, options.reps, lambda msg: progress(f"{subject.name}: {msg}"))
        launches = None
        if options.compile and options.device.type == "cpu":
            progress(f"{subject.name}: launch times with and without --compile (first and cached)")
            path = subject.path or save_checkpoint(
                Path(workdir) / f"{subject.name}.safetensors", subject.model, subject.tokenizer
            )
            launches = startup(path)
    rows = [row(c) for c in cases]
    progress(f"{subject.name}: quality of bfloat16 and int8 against float32")
    checked = quality(subject.model, gens, plan)
    shape = (cfg.n_embd, cfg.n_layer, cfg.vocab_size)
    if options.device.type == "cpu":
        choice = choose_cpu_dtype(subject.model, shape)
        auto, auto_note = dtype_name(choice.dtype), choice.describe()
    else:
        auto, auto_note = dtype_name(resolve_dtype("auto", options.device, shape)), ""
    ratios, targets = evaluate({r["key"]: r for r in rows}, auto, checked)
    return {
        "name": subject.name,
        "source": subject.source,
        "config": {k: v for k, v in cfg.to_dict().items() if k != "dropout"},
        "n_params": subject.model.num_params(),
        "auto_dtype": auto,
        "auto_note": auto_note,
        "quality": checked,
        "compile_startup": launches,
        "tokens": plan.to_dict(),
        "rows": rows,
        "ratios": ratios,
        "targets": targets,
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        bf16_native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        bf16_native = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cpu_bf16_native": bf16_native,
        # Load average at the start: well above 0 means other work shared the cores.
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers_version(),
    }


def run_bench(options: Options, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": f"babygpt-tui {__version__} bench",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"device": str(options.device), "reps": options.reps, "quick": options.quick, "warmup_runs": 1},
        # by matmul speed alone, for the reference size; per model (with quality) in each result
        "auto_dtype": dtype_name(resolve_dtype("auto", torch.device("cpu"))),
        "models": [],
    }
    if options.reference is not None:
        doc["models"].append(bench_subject(random_subject(options.reference), options, progress))
    if options.model_path is None:
        doc["models"].append({"name": options.model_label, "skipped": "skipped: no model given"})
    elif not options.model_path.exists() and options.model_optional:
        doc["models"].append(
            {
                "name": options.model_label,
                "skipped": f"skipped: {options.model_path} does not exist yet (train it, or pass --model PATH)",
            }
        )
    else:  # a --model that does not exist is the user's mistake: load_checkpoint says so
        subject = file_subject(options.model_path, options.model_label, options.vocab_from)
        doc["models"].append(bench_subject(subject, options, progress))
    return doc


if __name__ == "__main__":
    import sys

    from ..cli import main

    sys.exit(main(["bench", "engine", *sys.argv[1:]]))
