"""Teacher-forced scoring: mean negative log-likelihood per character with sliding windows.

Windows are block_size long and advance by `stride`; each target is scored once, by the first
window that reaches it, so with stride < block_size every target after the first window has at
least block_size - stride characters of context.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .model import BabyGPT


@dataclass(frozen=True)
class Score:
    nll: float  # nats per scored character
    scored: int
    skipped: int = 0

    @property
    def ppl(self) -> float:
        return math.exp(self.nll) if self.scored else float("nan")


def default_stride(block_size: int) -> int:
    """Half a window, so every target after the first window has block_size // 2 of context;
    1 for a block_size-1 model, whose windows hold one character each."""
    return max(1, block_size // 2)


def windows(n_tokens: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored): inputs ids[start:end] predict ids[start+1:end+1]; targets
    with index >= first_scored are counted. Every target index 1..n-1 is counted exactly once."""
    if not 1 <= stride <= block_size:
        raise ValueError(f"stride {stride} is out of range (allowed: 1 to block_size {block_size})")
    out, done, start = [], 0, 0  # `done`: targets 1..done are already scored
    while done < n_tokens - 1:
        end = min(start + block_size, n_tokens - 1)
        out.append((start, end, max(done, start) + 1))
        done = end
        start += stride
    return out


def score_ids(
    model: BabyGPT,
    ids: list[int],
    stride: int | None = None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> Score:
    block = model.config.block_size
    stride = default_stride(block) if stride is None else stride
    device = model.lm_head.weight.device
    data = torch.tensor(ids, dtype=torch.long, device=device)
    wins = windows(len(ids), block, stride)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            # Batch windows of equal length; only the last one can be shorter.
            for i in range(0, len(wins), batch_size):
                group = wins[i : i + batch_size]
                for length in sorted({e - s for s, e, _ in group}):
                    same = [w for w in group if w[1] - w[0] == length]
                    x = torch.stack([data[s:e] for s, e, _ in same])
                    y = torch.stack([data[s + 1 : e + 1] for s, e, _ in same])
                    logits, _ = model(x)
                    nll = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")
                    offsets = torch.arange(length, device=device)
                    mask = torch.stack([(offsets + s + 1) >= first for s, _, first in same])
                    total += float(nll[mask].sum())
                    count += int(mask.sum())
                if progress:
                    progress(min(i + batch_size, len(wins)), len(wins))
    finally:
        model.train(was_training)
    return Score(total / count if count else float("nan"), count)
