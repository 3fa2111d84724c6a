"""A static, pre-allocated key/value cache (gpt-fast style): the model never grows tensors per step.

BabyGPT uses learned absolute position embeddings, so cached keys are tied to the position they
were computed at. When the window is full there is no cheap "roll": `shift(keep)` hands back the
last `keep` token ids and empties the cache, and the generator re-prefills them from position 0.
"""

from __future__ import annotations

import torch


class KVCache:
    def __init__(
        self,
        n_layer: int,
        n_head: int,
        head_size: int,
        block_size: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        batch: int = 1,
    ) -> None:
        shape = (n_layer, batch, n_head, block_size, head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.block_size = block_size
        self.tokens: list[int] = []  # the ids whose keys/values are in the cache, in order

    @classmethod
    def for_model(cls, model: torch.nn.Module, batch: int = 1) -> KVCache:
        cfg = model.config
        w = model.lm_head.weight
        return cls(cfg.n_layer, cfg.n_head, cfg.head_size, cfg.block_size, w.device, w.dtype, batch)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def full(self) -> bool:
        return len(self.tokens) >= self.block_size

    def update(self, layer: int, pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k/v (B, H, T, D) at positions pos..pos+T-1; return views of everything cached."""
        end = pos + k.size(2)
        self.k[layer, :, :, pos:end].copy_(k)
        self.v[layer, :, :, pos:end].copy_(v)
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def append(self, ids: list[int]) -> None:
        """Record ids after the forward pass that wrote their keys/values."""
        self.tokens.extend(ids)

    def reset(self) -> None:
        self.tokens.clear()

    def shift(self, keep: int) -> list[int]:
        """Empty the cache and return the last `keep` ids, which the caller re-prefills at 0."""
        kept = self.tokens[len(self.tokens) - keep :] if keep > 0 else []
        self.tokens.clear()
        return kept
