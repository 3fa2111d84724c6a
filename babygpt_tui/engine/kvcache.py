"""A static, pre-allocated key/value cache (gpt-fast style): the model never grows tensors per step.

BabyGPT uses learned absolute position embeddings, so cached keys are tied to the position they
were computed at. When the window is full there is no cheap "roll": `shift(keep)` hands back the
last `keep` token ids and empties the cache, and the generator re-prefills them from position 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .model import BabyGPT


def attention_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The cache's (and the decode step's attention) dtype for activations of `dtype`: float32 on
    a CPU whatever the weights. A one-query attention is two batched matmuls over the cache, and
    on a CPU bf16 ones took twice float32's time (reference size, int8 weights: 117 vs 54 µs a
    layer); the cache is small (2 × layers × block × width floats), so only the GPU keeps it in
    the activations' dtype."""
    return torch.float32 if device.type == "cpu" else dtype


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
        # Keys and values of a layer side by side in one buffer: a decode step writes both with
        # one copy (its fused qkv output already holds them next to each other).
        self.kv = torch.zeros((n_layer, 2, batch, n_head, block_size, head_size), device=device, dtype=dtype)
        self.k, self.v = self.kv[:, 0], self.kv[:, 1]
        self.block_size = block_size
        self.batch = batch
        self.tokens: list[int] = []  # the ids whose keys/values are in the cache, in order
        # Per-layer views, made once: indexing the 5-D buffers on every decode step costs more
        # than the narrow/copy that follow. (H, S, D) views serve batch-1 callers.
        self._k4, self._v4 = list(self.k.unbind(0)), list(self.v.unbind(0))
        self._k3 = [t[0] for t in self._k4] if batch == 1 else []
        self._v3 = [t[0] for t in self._v4] if batch == 1 else []
        self._kv3 = [t[:, 0] for t in self.kv.unbind(0)] if batch == 1 else []  # (2, H, S, D) each

    @classmethod
    def for_model(cls, model: BabyGPT, batch: int = 1) -> KVCache:
        cfg = model.config
        w = model.tok_emb.weight  # the activations' dtype (an int8 model's head is int8)
        dtype = attention_dtype(w.device, w.dtype)
        return cls(cfg.n_layer, cfg.n_head, cfg.head_size, cfg.block_size, w.device, dtype, batch)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def full(self) -> bool:
        return len(self.tokens) >= self.block_size

    def update(self, layer: int, pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k/v at positions pos..pos+T-1 of `layer`; return views of everything cached there.

        k/v are (B, H, T, D), or (H, T, D) for a batch-1 cache (one decode step); the views
        returned have the same number of dimensions, ending at position pos+T-1.
        """
        if k.dim() == 3:
            if self.batch != 1:
                raise ValueError(f"(H, T, D) keys need a batch-1 cache, this one holds {self.batch}")
            keys, values = self._k3[layer], self._v3[layer]
        else:
            keys, values = self._k4[layer], self._v4[layer]
        t = k.size(-2)
        keys.narrow(-2, pos, t).copy_(k)
        values.narrow(-2, pos, t).copy_(v)
        return keys.narrow(-2, 0, pos + t), values.narrow(-2, 0, pos + t)

    def write_step(
        self, layer: int, pos: torch.Tensor, kv: torch.Tensor, seen: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decode step of a batch-1 cache: write `kv` (2, H, 1, D: its key and value) at `pos`
        (a one-element long tensor) of `layer` in one copy; return that layer's key and value
        buffers (H, S, D): positions 0..seen-1 (then seen must be pos + 1), or the whole buffers
        (S = block_size) when `seen` is None.

        The whole buffers keep every step's shapes the same, which a compiled step needs (no
        recompiles); the caller masks the positions after `pos`, which hold zeros or old keys,
        finite. Eager steps pass `seen`: attention reads the cache, and reading only the filled
        part of it is most of a one-query attention's time."""
        keys, values = self._k3[layer], self._v3[layer]
        if seen is None:
            self._kv3[layer].index_copy_(2, pos, kv)
            return keys, values
        # seen = pos + 1 as a Python int: a narrow and a copy cost less than index_copy_
        self._kv3[layer].narrow(2, seen - 1, 1).copy_(kv)
        return keys.narrow(1, 0, seen), values.narrow(1, 0, seen)

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
