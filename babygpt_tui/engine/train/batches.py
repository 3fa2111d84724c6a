"""Batches and the learning-rate schedule: pure functions of the settings and the step.

Micro-batch `g` of step `i` is drawn from a seed derived from (seed, i, g), and with N processes
rank r draws micro-batches r*K/N ... (r+1)*K/N - 1 of the K per step. So every rank samples its
own batches, the effective batch is K micro-batches whatever N is, and a resumed run draws
exactly the batches an uninterrupted one would have — with any number of processes.
"""

from __future__ import annotations

import hashlib
import math

import torch

from ..model import BabyGPT
from ..score import score_ids
from .config import TrainConfig


def loss_of(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    _, loss = module(x, y)
    if not isinstance(loss, torch.Tensor):  # forward with targets always returns the loss
        raise TypeError(f"{type(module).__name__}.forward returned no loss")
    return loss


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from the run's seed and a position (step, micro-batch, purpose)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def draw_batch(
    data: torch.Tensor, block: int, batch_size: int, gen: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random windows of `block` tokens and the same windows shifted by one."""
    ix = torch.randint(len(data) - block, (batch_size,), generator=gen)
    x = torch.stack([data[i : i + block] for i in ix])
    y = torch.stack([data[i + 1 : i + block + 1] for i in ix])
    return x.to(device), y.to(device)


def lr_at(cfg: TrainConfig, iteration: int, fraction_done: float) -> float:
    """Linear warm-up, then cosine decay to `min_lr_ratio * lr` at the end of the schedule."""
    if iteration < cfg.warmup_iters:
        return cfg.lr * (iteration + 1) / cfg.warmup_iters
    cosine = 0.5 * (1 + math.cos(math.pi * fraction_done))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


@torch.no_grad()
def validation_loss(model: BabyGPT, val_data: torch.Tensor, eval_iters: int, batch_size: int, seed: int) -> float:
    """Mean loss on the same random validation windows every time (a fixed seed), so successive
    evals are comparable; a validation text shorter than a window is scored whole."""
    block, device = model.config.block_size, next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        if len(val_data) > block:
            gen = torch.Generator().manual_seed(derive_seed(seed, "val"))
            losses = [
                float(loss_of(model, *draw_batch(val_data, block, batch_size, gen, device))) for _ in range(eval_iters)
            ]
            return sum(losses) / len(losses)
        return score_ids(model, val_data.tolist()).nll
    finally:
        model.train(was_training)
