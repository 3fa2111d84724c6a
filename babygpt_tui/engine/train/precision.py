"""Device-specific parts of a training step: mixed precision, the optimizer, torch.compile and
how busy the device is (MFU).

On CUDA `--dtype auto` trains in bfloat16 autocast where the GPU has it and float16 autocast with
a GradScaler where not; elsewhere it stays float32 (bf16 autocast on a CPU without native bf16
arithmetic measured ~25x slower here). The weights and optimizer state stay float32 throughout.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from ..errors import DeviceError
from ..model import BabyGPT
from .config import TrainConfig, precision_name

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Precision:
    device: torch.device
    compute: torch.dtype

    @property
    def name(self) -> str:
        return str(self.compute).removeprefix("torch.")

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.compute == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.compute)

    def scaler(self) -> torch.amp.GradScaler:
        """A GradScaler that scales only for float16 (bf16 has float32's range)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.compute == torch.float16)


def resolve_precision(name: str, device: torch.device) -> Precision:
    name = precision_name(name)
    if name == "auto" and device.type == "cuda":
        name = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    elif name == "auto":
        name = "float32"
    if name not in DTYPES:
        raise DeviceError(f"--dtype {name!r} is unknown (allowed: auto, float32, bfloat16, float16)")
    return Precision(device, DTYPES[name])


def make_optimizer(model: BabyGPT, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; the fused kernel on CUDA (one launch per step)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.99),
        fused=device.type == "cuda",
    )


def maybe_compile(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """torch.compile the training module (the model, or DDP around it) if asked. The weights
    stay shared with the uncompiled model, which evaluation, sampling and saving use."""
    if not enabled:
        return module
    compiled = torch.compile(module)
    assert isinstance(compiled, torch.nn.Module)  # compiling a Module gives an OptimizedModule
    return compiled


def matmul_flops(model: BabyGPT) -> int:
    """Weights multiplied per token: every Linear layer (the embedding lookups cost nothing)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def train_flops_per_token(model: BabyGPT) -> float:
    """Forward + backward FLOPs per token, as in the PaLM paper (appendix B) and nanoGPT: 6 per
    weight, plus attention's 12 * layers * width * context."""
    cfg = model.config
    return 6.0 * matmul_flops(model) + 12.0 * cfg.n_layer * cfg.n_embd * cfg.block_size


def measure_peak_flops(precision: Precision, reps: int = 3) -> float:
    """What a large square matmul reaches on this device in the compute dtype, FLOP/s: the
    denominator of MFU. Measured rather than looked up, so it means the same on any CPU or GPU
    (about 0.1 s on a CPU)."""
    n = 4096 if precision.device.type == "cuda" else 768
    a = torch.full((n, n), 0.5, dtype=precision.compute, device=precision.device)
    b = torch.full((n, n), 0.25, dtype=precision.compute, device=precision.device)
    best = float("inf")
    for i in range(reps + 1):
        _sync(precision.device)
        t = time.perf_counter()
        a @ b
        _sync(precision.device)
        if i:  # the first is a warm-up
            best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / max(best, 1e-9)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
