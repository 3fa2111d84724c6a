"""`babygpt-tui bench --compile`: the compiled decode step (engine/compile.py) beside the plain one.

- decode: float32 and int8 generators with `compile=True`, as rows `engine_<dtype>_compiled` of
  the same interleaved run (their note gives the first call's seconds: compiling, in this process);
- start-up: wall-clock seconds of `generate --max-new-tokens 1` from outside, without `--compile`,
  with it on an empty inductor cache (a first launch) and again on that cache (a cached launch).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ..engine.compile import CACHE_ENV
from ..engine.generate import Generator
from ..engine.model import BabyGPT
from ..engine.tokenizer import CharTokenizer
from .cases import Plan, engine_stream_case
from .timing import Case, skipped_case

COMPILED_DTYPES = ("float32", "int8")


def compiled_cases(model: BabyGPT, tokenizer: CharTokenizer, device: torch.device, plan: Plan) -> list[Case]:
    cases = []
    for dtype in COMPILED_DTYPES:
        key, label = f"engine_{dtype}_compiled", "engine, --compile"
        gen = Generator(copy.deepcopy(model), tokenizer, device=device, dtype=dtype, name="bench", compile=True)
        if gen.compile_note:
            cases.append(skipped_case(key, label, dtype, f"skipped: {gen.compile_note}"))
            continue
        case = engine_stream_case(key, label, gen, plan)
        case.note = f"first call {gen.compile_seconds:.1f} s (compile, or the on-disk cache)"
        cases.append(case)
    return cases


def launch_seconds(model: Path, dtype: str, compile: bool, cache_dir: Path) -> float:
    """Seconds from starting `generate --max-new-tokens 1` until it exits."""
    cmd = [sys.executable, "-m", "babygpt_tui", "generate", "--model", str(model), "--dtype", dtype]
    cmd += ["--max-new-tokens", "1", "--temperature", "0", "--seed", "0"] + (["--compile"] if compile else [])
    env = {**os.environ, CACHE_ENV: str(cache_dir)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"generate exited {proc.returncode}: {lines[-1] if lines else 'no message'}")
    return seconds


def startup(model: Path, dtypes: tuple[str, ...] = COMPILED_DTYPES) -> dict[str, Any]:
    """Launch times without --compile, with it on an empty cache, and with it cached."""
    out: dict[str, Any] = {}
    for dtype in dtypes:
        with tempfile.TemporaryDirectory(prefix="babygpt-inductor-") as cache:
            plain = launch_seconds(model, dtype, False, Path(cache))
            first = launch_seconds(model, dtype, True, Path(cache))
            cached = launch_seconds(model, dtype, True, Path(cache))
        out[dtype] = {"plain_s": plain, "first_launch_s": first, "cached_launch_s": cached}
    return out
