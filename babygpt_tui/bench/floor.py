"""The memory-bandwidth floor: only the weight matmuls one decode step needs.

Decoding one token reads every weight matrix once with a single input row, so on a CPU its time
is bounded below by how fast those matrices stream from memory. Per layer that is qkv (3C x C),
proj (C x C), fc1 (H x C) and fc2 (C x H) with H = 4C; plus lm_head (V x C). No biases, no
attention over the cache, no LayerNorm, no embedding, no sampling: an engine's decode time as a
percentage of this is how much of the step is the unavoidable part.
"""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from ..engine.model import ModelConfig
from .timing import sync


class Floor:
    def __init__(
        self, cfg: ModelConfig, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", seed: int = 0
    ) -> None:
        gen = torch.Generator().manual_seed(seed)
        C, H, V = cfg.n_embd, cfg.hidden, cfg.vocab_size

        def weight(rows: int, cols: int) -> torch.Tensor:
            # Scaled like a trained layer so bf16 values stay ordinary numbers (no denormals).
            return (torch.randn(rows, cols, generator=gen) * cols**-0.5).to(device=device, dtype=dtype)

        self.layers = [(weight(3 * C, C), weight(C, C), weight(H, C), weight(C, H)) for _ in range(cfg.n_layer)]
        self.lm_head = weight(V, C)
        self.x = torch.randn(1, C, generator=gen).to(device=device, dtype=dtype)
        self.h = torch.randn(1, H, generator=gen).to(device=device, dtype=dtype)
        self.device = torch.device(device)

    @property
    def bytes_per_step(self) -> int:
        mats = [w for layer in self.layers for w in layer] + [self.lm_head]
        return sum(w.numel() * w.element_size() for w in mats)

    def step(self) -> None:
        x, h = self.x, self.h
        for qkv, proj, fc1, fc2 in self.layers:
            F.linear(x, qkv)
            F.linear(x, proj)
            F.linear(x, fc1)
            F.linear(h, fc2)
        F.linear(x, self.lm_head)

    def steps_per_s(self, steps: int) -> float:
        """Run `steps` decode steps back to back; return steps (= tokens) per second."""
        with torch.inference_mode():
            t0 = time.perf_counter()
            for _ in range(steps):
                self.step()
            sync(self.device)
            return steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    import sys

    from ..cli import main

    sys.exit(main(["bench", "floor", *sys.argv[1:]]))
