"""The decode step's weight matmuls, one definition for the model, `--dtype auto`'s timing
(device.py) and the bench's floor: float32 `F.linear`/`addmm`; bfloat16 with the weight in
oneDNN's packed layout on a CPU; int8 rows with per-row scales through `_weight_int8pack_mm`.

Why bf16 weights are packed: bf16 `F.linear` of one row reorders the weight into oneDNN's
blocked layout on every call. Packed once (`pack`, what inductor's freezing does), a one-row
matmul took 27 instead of 66 µs for a 1,152 × 384 matrix and 230 instead of 386 µs for the
6,148 × 384 head (fp32 `F.linear`: 37 and 350 µs), and a whole decode step ran 1.3-1.4x faster
(reference size 236 -> 314 steps/s, bundled model 574 -> 766; this repository's Xeon, one thread).
"""

from __future__ import annotations

from typing import overload

import torch
from torch.nn import functional as F

_ONEDNN: bool = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]


def packs(w: torch.Tensor) -> bool:
    """Whether `pack` puts this weight into oneDNN's layout: bf16, on a CPU with oneDNN."""
    return w.dtype == torch.bfloat16 and w.device.type == "cpu" and _ONEDNN


@overload
def pack(w: torch.Tensor) -> torch.Tensor: ...
@overload
def pack(w: None) -> None: ...
def pack(w: torch.Tensor | None) -> torch.Tensor | None:
    """A copy of a CPU bf16 weight in oneDNN's packed layout for one-row matmuls (an opaque
    tensor only `linear`/`add_linear` read; `torch.compile` cannot); anything else as it is."""
    if w is None or not packs(w):
        return w
    packed: torch.Tensor = torch.ops.mkldnn._reorder_linear_weight(w, 1)
    return packed


def int8_matmul(x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x·qᵀ·diag(scale) for int8 rows q: bf16 input, per-row scales (quant.py)."""
    return torch._weight_int8pack_mm(x, q, scale)


def linear(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor:
    """x·wᵀ + b, for a float weight (s None; packed or not) or int8 rows with per-row scales s."""
    if s is None:
        if w.is_mkldnn:
            out: torch.Tensor = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
            return out
        return F.linear(x, w, b)
    y = int8_matmul(x, w, s)
    return y if b is None else y.add_(b)


def add_linear(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, s: torch.Tensor | None, b: torch.Tensor | None
) -> torch.Tensor:
    """x + y·wᵀ + b (a residual branch); for float weights the add is the matmul's own, one op fewer."""
    if s is None:
        if w.is_mkldnn:
            added: torch.Tensor = torch.ops.mkldnn._linear_pointwise.binary(y, x, w, b, "add")
            return added
        out = torch.addmm(x, y, w.t())
        return out if b is None else out.add_(b)
    return linear(y, w, s, b).add_(x)
