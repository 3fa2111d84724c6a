"""Device, dtype and thread choices, with `auto` resolved to what is best on this machine."""

from __future__ import annotations

import functools
import time

import torch
import torch.nn.functional as F

from .errors import DeviceError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} is not available here (no CUDA); use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("device 'mps' is not available here; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None


@functools.lru_cache(maxsize=None)
def bf16_faster_on_cpu(width: int = 384) -> bool:
    """Time a decode-shaped matmul (one row against a weight matrix) in float32 and bfloat16.

    Decode is bound by reading weights, so bfloat16 usually wins even without native bf16 math;
    but on some CPUs the conversion costs more than the bandwidth saves. ~30 ms, once per process.
    """
    x32 = torch.randn(1, width)
    w32 = torch.randn(4 * width, width)
    timings = {}
    for dtype in (torch.float32, torch.bfloat16):
        x, w = x32.to(dtype), w32.to(dtype)
        for _ in range(3):
            F.linear(x, w)
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(10):
                F.linear(x, w)
            best = min(best, time.perf_counter() - t)
        timings[dtype] = best
    return timings[torch.bfloat16] < timings[torch.float32] * 0.9


def resolve_dtype(name: str, device: torch.device, width: int = 384) -> torch.dtype:
    name = (name or "auto").lower()
    name = DTYPE_ALIASES.get(name, name)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.bfloat16 if bf16_faster_on_cpu(width) else torch.float32
    if name not in DTYPES:
        raise DeviceError(f"unknown dtype {name!r}; use auto, float32, bfloat16 or float16")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
