"""Training settings: one frozen dataclass, checked before any work starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import DataError
from ..model import ModelConfig

PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(block_size=64, n_embd=64, n_layer=2, n_head=4),
    "small": dict(block_size=128, n_embd=256, n_layer=4, n_head=8),
    "base": dict(block_size=256, n_embd=384, n_layer=6, n_head=6),  # the upstream size
}
DIMENSIONS = ("block_size", "n_embd", "n_layer", "n_head")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
PRECISION_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
SEED_LIMIT = 2**64  # torch generators take 64-bit seeds


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    preset: str = "small"
    block_size: int | None = None
    n_embd: int | None = None
    n_layer: int | None = None
    n_head: int | None = None
    dropout: float = 0.1
    batch_size: int = 32
    # Micro-batches per optimizer step, summed over all processes (None: one per process, or
    # what the resumed run used), so the effective batch does not depend on the process count.
    grad_accum: int | None = None
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_iters: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_iters: int | None = None
    max_minutes: float | None = None
    eval_interval: int = 250
    eval_iters: int = 20
    val_fraction: float = 0.05
    seed: int = 1337
    device: str = "auto"
    dtype: str = "auto"  # compute precision: float32, or bfloat16/float16 autocast
    compile: bool = False
    threads: int | None = None
    resume: bool = False
    sample_prompt: str | None = None  # None: the corpus's first line
    sample_chars: int = 100  # 0: no sample at evals

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise DataError(f"preset {self.preset!r} is unknown (allowed: {', '.join(PRESETS)})")
        at_least_one = {
            "batch_size": self.batch_size,
            "eval_interval": self.eval_interval,
            "eval_iters": self.eval_iters,
            "grad_accum": self.grad_accum,
            "threads": self.threads,
            "max_iters": self.max_iters,
            **{k: getattr(self, k) for k in DIMENSIONS},
        }
        for name, value in at_least_one.items():
            if value is not None and value < 1:
                raise DataError(f"{flag(name)} = {value} must be at least 1")
        for name in ("warmup_iters", "sample_chars"):
            if getattr(self, name) < 0:
                raise DataError(f"{flag(name)} = {getattr(self, name)} must be 0 or more")
        for name in ("lr", "max_minutes", "dropout", "weight_decay", "val_fraction", "grad_clip", "min_lr_ratio"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise DataError(f"{flag(name)} = {value} must be a finite number")
        if not self.lr > 0:
            raise DataError(f"--lr = {self.lr} must be above 0")
        if not 0 <= self.dropout < 1:
            raise DataError(f"--dropout = {self.dropout} is out of range (allowed: 0 up to below 1)")
        if not 0 < self.val_fraction < 1:
            raise DataError(f"--val-fraction = {self.val_fraction} is out of range (allowed: above 0 and below 1)")
        if self.weight_decay < 0:
            raise DataError(f"--weight-decay = {self.weight_decay} must be 0 or more")
        if not 0 <= self.seed < SEED_LIMIT:
            raise DataError(f"--seed = {self.seed} is out of range (allowed: 0 to 2**64 - 1)")
        if self.max_iters is None and self.max_minutes is None:
            raise DataError("give --max-iters N or --max-minutes M (or both) so training knows when to stop")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise DataError(f"--max-minutes = {self.max_minutes} must be above 0")
        if precision_name(self.dtype) not in PRECISIONS:
            raise DataError(f"--dtype {self.dtype!r} is unknown (allowed: {', '.join(PRECISIONS)})")
        self.model_config(1)  # the dimensions fit together

    def model_config(self, vocab_size: int) -> ModelConfig:
        dims = dict(PRESETS[self.preset])
        for key in dims:
            if getattr(self, key) is not None:
                dims[key] = getattr(self, key)
        if dims["n_embd"] % dims["n_head"]:
            raise DataError(f"--n-embd {dims['n_embd']} must be divisible by --n-head {dims['n_head']}")
        return ModelConfig(
            vocab_size=vocab_size,
            block_size=dims["block_size"],
            n_embd=dims["n_embd"],
            n_layer=dims["n_layer"],
            n_head=dims["n_head"],
            dropout=self.dropout,
        )


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def precision_name(name: str) -> str:
    name = (name or "auto").lower()
    return PRECISION_ALIASES.get(name, name)
