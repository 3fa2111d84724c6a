"""The BabyGPT model, read top to bottom: config -> attention -> MLP -> block -> model.

Parameter names are exactly the upstream BabyGPT ones (including the `postion_embedding_table`
typo and per-head key/query/value), so an upstream `model.pth` state_dict loads as is. For speed
the per-head q/k/v weights are used as one fused matrix with `scaled_dot_product_attention`;
the result equals the per-head computation (tests check it against a per-head reference).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from .kvcache import KVCache


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    block_size: int = 128
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 8
    ffn_hidden: int = 0  # 0 => 4 * n_embd, as upstream
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_layer", "n_head"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def hidden(self) -> int:
        return self.ffn_hidden or 4 * self.n_embd

    def to_dict(self) -> dict:
        return asdict(self)


class Head(nn.Module):
    """One attention head's projections. Kept only for upstream parameter names; the math is fused."""

    def __init__(self, n_embd: int, head_size: int) -> None:
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)


class MultiHeadAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.head_size = cfg.n_head, cfg.head_size
        self.scale = cfg.head_size**-0.5  # as upstream (and SDPA's default)
        self.heads = nn.ModuleList([Head(cfg.n_embd, cfg.head_size) for _ in range(cfg.n_head)])
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        # Dropout on the output only, not on the attention weights: with dropout_p > 0 CPU SDPA
        # leaves its fused kernel for the math path (measured: a quarter of training step time).
        self.dropout = nn.Dropout(cfg.dropout)
        self._fused: torch.Tensor | None = None  # set by fuse() for inference

    def qkv_weight(self) -> torch.Tensor:
        """(3 * n_embd, n_embd): all queries, then all keys, then all values, heads in order."""
        if self._fused is not None and not self.training:
            return self._fused
        return torch.cat(
            [h.query.weight for h in self.heads]
            + [h.key.weight for h in self.heads]
            + [h.value.weight for h in self.heads]
        )

    def fuse(self) -> None:
        # Concatenating per step would copy every q/k/v weight once per token; do it once.
        self._fused = self.qkv_weight().detach().contiguous()

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int, pos: int) -> torch.Tensor:
        B, T, C = x.shape
        qkv = F.linear(x, self.qkv_weight())
        q, k, v = qkv.view(B, T, 3, self.n_head, self.head_size).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cached = cache.update(layer, pos, k, v)
            if T == 1:  # a decode step attends over everything cached; a prefill (from position
                k, v = cached  # 0) over its own fresh k/v, so an fp32 prefill can fill a bf16 cache
        if T == 1:
            # A decode step: one query that may see every cached key, so no mask. Two plain
            # matmuls: CPU SDPA's flash kernel was the largest single cost of a one-query step
            # in the profile (decode_step below is the fast path; this one serves tests/scoring).
            att = torch.matmul(q, k.transpose(-2, -1)) * self.scale
            y = torch.matmul(att.float().softmax(-1).to(v.dtype), v)
        else:  # a prefill starts at position 0: causal over itself
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.dropout(self.proj(y))


class FeedFoward(nn.Module):  # (sic) upstream spelling; the state_dict key is `ffwd.net`
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(cfg.n_embd, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.sa = MultiHeadAttention(cfg)
        self.ffwd = FeedFoward(cfg)
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int, pos: int) -> torch.Tensor:
        x = x + self.sa(self.ln1(x), cache, layer, pos)
        return x + self.ffwd(self.ln2(x))


class BabyGPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.token_embedding_table = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.postion_embedding_table = nn.Embedding(cfg.block_size, cfg.n_embd)  # (sic) upstream
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_final = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size)

    def init_weights(self, seed: int | None = None) -> None:
        """GPT-2 style init for training from scratch (upstream used PyTorch defaults)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:  # LayerNorm weights
                nn.init.ones_(p)
            else:
                std = 0.02
                # Residual projections get a smaller init so the stream's variance stays ~1.
                if name.endswith("proj.weight") or name.endswith("net.2.weight"):
                    std = 0.02 / math.sqrt(2 * self.config.n_layer)
                with torch.no_grad():
                    p.normal_(0.0, std, generator=gen)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def fuse(self) -> BabyGPT:
        """Prepare for inference: eval mode and fused q/k/v. Call after moving device/dtype."""
        self.eval()
        for block in self.blocks:
            block.sa.fuse()
        return self

    def decode_step(self, token: torch.Tensor, cache: KVCache, pos: int) -> torch.Tensor:
        """One token (a (1, 1) id tensor) at position `pos` of a batch-1 cache; its logits (V,).

        The same math as `forward`, written flat with functional calls: a decode step is ~15
        small ops per layer around the weight matmuls, and the module calls, shape checks and
        views of `forward` cost ~10 % of the step (the matmuls are the rest). Needs `fuse()`;
        call it under `torch.inference_mode()` (the Generator does).
        """
        cfg = self.config
        C, H, D = cfg.n_embd, cfg.n_head, cfg.head_size
        x = F.embedding(token[0], self.token_embedding_table.weight) + self.postion_embedding_table.weight[pos]
        low = x.dtype != torch.float32
        empty = x.new_empty(())  # baddbmm's ignored input (beta=0): scale folded into the q·k product
        for i, block in enumerate(self.blocks):
            sa, ln1, ln2, net = block.sa, block.ln1, block.ln2, block.ffwd.net
            h = F.layer_norm(x, (C,), ln1.weight, ln1.bias, ln1.eps)
            q, k, v = F.linear(h, sa._fused).view(3, H, 1, D)
            keys, values = cache.k[i, 0], cache.v[i, 0]  # (H, block, D)
            keys[:, pos].copy_(k[:, 0])
            values[:, pos].copy_(v[:, 0])
            att = torch.baddbmm(empty, q, keys[:, : pos + 1].transpose(1, 2), beta=0, alpha=sa.scale)
            # softmax in float32: bf16/fp16 scores would lose the small probabilities
            att = att.float().softmax(-1).to(v.dtype) if low else att.softmax(-1)
            y = torch.bmm(att, values[:, : pos + 1])  # (H, 1, D)
            x = torch.addmm(x, y.view(1, C), sa.proj.weight.t()).add_(sa.proj.bias)
            h = F.layer_norm(x, (C,), ln2.weight, ln2.bias, ln2.eps)
            h = F.linear(h, net[0].weight, net[0].bias).relu_()
            x = torch.addmm(x, h, net[2].weight.t()).add_(net[2].bias)
        x = F.layer_norm(x, (C,), self.ln_final.weight, self.ln_final.bias, self.ln_final.eps)
        return F.linear(x, self.lm_head.weight, self.lm_head.bias)[0]

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        pos: int = 0,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        if pos + T > self.config.block_size:
            # The original indexes past its position table here and crashes; callers must crop.
            raise ValueError(f"positions {pos}..{pos + T - 1} exceed block_size {self.config.block_size}")
        if cache is not None and pos > 0 and T > 1:
            raise ValueError("a multi-token forward with a cache must start at position 0")
        x = self.token_embedding_table(idx) + self.postion_embedding_table.weight[pos : pos + T]
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i, pos)
        if last_only:
            x = x[:, -1:, :]
        logits = self.lm_head(self.ln_final(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss
