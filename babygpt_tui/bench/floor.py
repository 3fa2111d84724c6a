"""The memory-bandwidth floor: only the weight matmuls one decode step needs.

Decoding one token reads every weight matrix once with a single input row, so on a CPU its time
is bounded below by how fast those matrices stream from memory. Per layer that is qkv (3C x C),
proj (C x C), fc1 (H x C) and fc2 (C x H) with H = 4C; plus lm_head (V x C). No biases, no
attention over the cache, no LayerNorm, no embedding, no sampling: an engine's decode time as a
percentage of this is how much of the step is the unavoidable part.

The int8 floor is the same matrices as int8 rows with per-row scales, multiplied by a bf16 row
through the kernel the engine's `--dtype int8` uses; bf16 weights are packed for oneDNN as the
engine's are (both in engine/kernels.py).
"""

from __future__ import annotations

import time

import torch

from ..engine.kernels import int8_matmul, linear, pack
from ..engine.model import ModelConfig
from .timing import sync


class Floor:
    def __init__(
        self, cfg: ModelConfig, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", seed: int = 0
    ) -> None:
        gen = torch.Generator().manual_seed(seed)
        C, H, V = cfg.n_embd, cfg.hidden, cfg.vocab_size
        self.int8 = dtype == torch.int8
        act = torch.bfloat16 if self.int8 else dtype  # int8 weights take a bf16 row
        self.scales: dict[int, torch.Tensor] = {}  # id(weight) -> its per-row scales (int8)

        def weight(rows: int, cols: int) -> torch.Tensor:
            # Scaled like a trained layer so bf16 values stay ordinary numbers (no denormals).
            w = torch.randn(rows, cols, generator=gen) * cols**-0.5
            if not self.int8:
                return pack(w.to(device=device, dtype=dtype))
            scale = w.abs().amax(1) / 127
            q = torch.round(w / scale[:, None]).to(device=device, dtype=torch.int8)
            self.scales[id(q)] = scale.to(device=device, dtype=act)
            return q

        self.layers = [(weight(3 * C, C), weight(C, C), weight(H, C), weight(C, H)) for _ in range(cfg.n_layer)]
        self.lm_head = weight(V, C)
        self.x = torch.randn(1, C, generator=gen).to(device=device, dtype=act)
        self.h = torch.randn(1, H, generator=gen).to(device=device, dtype=act)
        self.device = torch.device(device)

    @property
    def bytes_per_step(self) -> int:
        mats = [w for layer in self.layers for w in layer] + [self.lm_head]
        return sum(w.numel() * w.element_size() for w in mats)

    def mm(self, x: torch.Tensor, w: torch.Tensor) -> None:
        if self.int8:
            int8_matmul(x, w, self.scales[id(w)])
        else:
            linear(x, w, None, None)

    def step(self) -> None:
        x, h, mm = self.x, self.h, self.mm
        for qkv, proj, fc1, fc2 in self.layers:
            mm(x, qkv)
            mm(x, proj)
            mm(x, fc1)
            mm(h, fc2)
        mm(x, self.lm_head)

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
