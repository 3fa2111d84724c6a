"""Device, dtype and thread choices, with `auto` resolved to what is best on this machine."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch

from .errors import DeviceError
from .kernels import int8_matmul, linear, pack
from .reference import REFERENCE

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
# What a model can run in: the float dtypes (DTYPES, also what a file can store) and int8
# weight-only (quant.py), which is not a storage dtype (`convert --dtype` takes DTYPES only).
COMPUTE_DTYPES = {**DTYPES, "int8": torch.int8}


DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice (one per core), before anything sets it


def set_threads(threads: int, leave_a_core: bool = False) -> None:
    """torch's threads: `threads` if given; else, beside a UI or an event loop (`leave_a_core`:
    the TUI's engine process, serve), one fewer than the cores, so the other process has one of
    its own. Measured on 2 cores (bundled model, 1,500 tokens, README "The TUI's speed"): the TUI
    decoded at 400 tok/s with two threads and 670 with one on a quiet machine, 555-580 and 600-645
    with another job holding a core. Call it on the thread that decodes."""
    if threads:
        torch.set_num_threads(threads)
    elif leave_a_core:  # from torch's own count, so a second load does not take one more away
        torch.set_num_threads(max(1, DEFAULT_THREADS - 1))


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
def cpu_step_times(shape: tuple[int, int, int] = REFERENCE_SHAPE) -> dict[str, float]:
    """Seconds for one decode step's weight matmuls (one row against every weight matrix of a
    model of this shape) in float32, bfloat16 and int8 weight-only, best of 5.

    Decode is bound by reading weights, so fewer bytes win once the weights outgrow the caches
    — if the CPU's kernel for that dtype is good at one row: on this repository's Xeon (AMX)
    bf16 `F.linear` of one row was slower than fp32 for every matrix but the head (packed
    weights, as the decode step has them since, are faster: kernels.py), while the int8 kernel
    with a bf16 row was the fastest for all. A single small matrix says little —
    hence the whole model's shapes. ~0.1 s for the upstream size, once per process and shape.
    """
    shapes = decode_weight_shapes(*shape)
    steps: dict[str, Callable[[], None]] = {}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        weights = [pack(torch.full(s, 0.01, dtype=dtype)) for s in shapes]  # as the decode step has them
        rows = [torch.full((1, s[1]), 0.5, dtype=dtype) for s in shapes]
        steps[name] = functools.partial(_float_step, rows, weights)
    q = [torch.ones(s, dtype=torch.int8) for s in shapes]
    scales = [torch.full((s[0],), 0.01, dtype=torch.bfloat16) for s in shapes]
    rows = [torch.full((1, s[1]), 0.5, dtype=torch.bfloat16) for s in shapes]
    steps["int8"] = functools.partial(_int8_step, rows, q, scales)
    timings = {}
    with torch.inference_mode():
        for name, step in steps.items():
            try:
                for _ in range(2):
                    step()
            except RuntimeError:  # no kernel for this dtype here
                continue
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - t)
            timings[name] = best
    return timings


def _float_step(rows: list[torch.Tensor], weights: list[torch.Tensor]) -> None:
    for x, w in zip(rows, weights, strict=True):
        linear(x, w, None, None)


def _int8_step(rows: list[torch.Tensor], q: list[torch.Tensor], scales: list[torch.Tensor]) -> None:
    for x, w, s in zip(rows, q, scales, strict=True):
        int8_matmul(x, w, s)


def cpu_dtypes_fastest_first(shape: tuple[int, int, int] = REFERENCE_SHAPE) -> list[str]:
    """float32, bfloat16 and int8 by their matmul time on this CPU, fastest first; another dtype
    goes before float32 only if clearly (10 %) faster, since it costs some quality."""
    times = cpu_step_times(shape)
    fp32 = times.get("float32", float("inf"))
    return sorted(times, key=lambda name: times[name] if name == "float32" or times[name] < fp32 * 0.9 else fp32 * 1.01)


def resolve_dtype(name: str, device: torch.device, shape: tuple[int, int, int] = REFERENCE_SHAPE) -> torch.dtype:
    """`shape`: (n_embd, n_layer, vocab_size) of the model, for `auto` on the CPU. `int8` is
    torch.int8: int8 weights with bfloat16 activations (quant.py). On the CPU `auto` here is the
    fastest by speed alone; the Generator also checks its quality on the model itself
    (autodtype.py) and falls back to the next."""
    name = (name or "auto").lower()
    name = DTYPE_ALIASES.get(name, name)
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return COMPUTE_DTYPES[cpu_dtypes_fastest_first(shape)[0]]
    if name not in COMPUTE_DTYPES:
        raise DeviceError(f"unknown dtype {name!r}; use auto, float32, bfloat16, float16 or int8")
    return COMPUTE_DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
