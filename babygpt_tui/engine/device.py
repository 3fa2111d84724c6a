"""Device, dtype and thread choices, with `auto` resolved to what is best on this machine."""

from __future__ import annotations

import functools
import time

import torch
import torch.nn.functional as F

from .errors import DeviceError
from .reference import REFERENCE

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


# (n_embd, n_layer, vocab_size) of the upstream BabyGPT, when no model is given
REFERENCE_SHAPE = (REFERENCE.n_embd, REFERENCE.n_layer, REFERENCE.vocab_size)


def decode_weight_shapes(n_embd: int, n_layer: int, vocab_size: int) -> tuple[tuple[int, int], ...]:
    """The weight matrices one decode step multiplies by: fused q/k/v, projection, MLP, head."""
    c = n_embd
    return ((3 * c, c), (c, c), (4 * c, c), (c, 4 * c)) * n_layer + ((vocab_size, c),)


@functools.cache
def bf16_faster_on_cpu(shape: tuple[int, int, int] = REFERENCE_SHAPE) -> bool:
    """Time one decode step's weight matmuls (one row against every weight matrix of a model of
    this shape) in float32 and bfloat16.

    Decode is bound by reading weights, so bfloat16 wins once the weights outgrow the caches,
    even without native bf16 math; for small models (weights in cache) the conversion costs
    more than the bandwidth saves. A single small matrix always measured float32 faster here —
    hence the whole model's shapes. ~50 ms for the upstream size, once per process and shape.
    """
    timings = {}
    shapes = decode_weight_shapes(*shape)
    for dtype in (torch.float32, torch.bfloat16):
        weights = [torch.full(s, 0.01, dtype=dtype) for s in shapes]
        inputs = [torch.full((1, s[1]), 0.5, dtype=dtype) for s in shapes]

        def step(inputs: list[torch.Tensor] = inputs, weights: list[torch.Tensor] = weights) -> None:
            for x, w in zip(inputs, weights, strict=True):
                F.linear(x, w)

        for _ in range(2):
            step()
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t)
        timings[dtype] = best
    return timings[torch.bfloat16] < timings[torch.float32] * 0.9


def resolve_dtype(name: str, device: torch.device, shape: tuple[int, int, int] = REFERENCE_SHAPE) -> torch.dtype:
    """`shape`: (n_embd, n_layer, vocab_size) of the model, for `auto` on the CPU."""
    name = (name or "auto").lower()
    name = DTYPE_ALIASES.get(name, name)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.bfloat16 if bf16_faster_on_cpu(shape) else torch.float32
    if name not in DTYPES:
        raise DeviceError(f"unknown dtype {name!r}; use auto, float32, bfloat16 or float16")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
