"""`--compile` (opt-in, config key `compile`): `torch.compile` of the single-token decode step.

Inductor turns the step's ~20 small ops per layer into a few fused C++ kernels around the weight
matmuls (which stay oneDNN/MKL calls, or the int8 kernel). The step is one graph for every
position: `decode_step` takes the token and position as tensors and attends over the whole
masked cache, so nothing recompiles as a reply grows. Inductor's on-disk caches live under the
user's cache folder (`TORCHINDUCTOR_CACHE_DIR` overrides it), so a second launch of the same
model, dtype and torch loads the compiled step instead of compiling it again.

It needs a C++ compiler: without one (or if inductor fails), the engine says so in one line and
decodes without compiling. Compile time, first and cached launch, and the decode gain measured
here are in the README's speed section.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs
import torch

from .kvcache import KVCache
from .model import BabyGPT

Step = Callable[[torch.Tensor, KVCache, torch.Tensor, int | None], torch.Tensor]
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
COMPILERS = ("c++", "g++", "clang++")


class CompileUnavailable(RuntimeError):
    """Why the step could not be compiled here, in one line (the engine decodes without it)."""


def cache_dir() -> Path:
    return platformdirs.user_cache_path("babygpt-tui", appauthor=False) / "inductor"


def find_compiler() -> str | None:
    names = [os.environ["CXX"]] if os.environ.get("CXX") else list(COMPILERS)
    return next((path for name in names if (path := shutil.which(name))), None)


def compile_step(model: BabyGPT, cache: KVCache, token: torch.Tensor, pos: torch.Tensor) -> tuple[Step, float]:
    """The compiled `model.decode_step` and the seconds its first call took (compiling, or
    loading it from the on-disk cache). The first call runs on `cache` at `pos`: the caller
    resets the cache afterwards. Raises CompileUnavailable with the reason."""
    if find_compiler() is None:
        raise CompileUnavailable(f"--compile needs a C++ compiler ({', '.join(COMPILERS)} or $CXX); none found")
    os.environ.setdefault(CACHE_ENV, str(cache_dir()))
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True  # the compiled kernels, reused by the next launch
    step: Step = torch.compile(model.decode_step, fullgraph=True, dynamic=False)
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            step(token, cache, pos, None)
    except Exception as e:  # inductor's errors are many kinds and long: one line, then run eager
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise CompileUnavailable(f"--compile failed ({type(e).__name__}: {first})") from None
    return step, time.perf_counter() - start
