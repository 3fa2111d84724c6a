"""The original BabyGPT generation loop, re-implemented faithfully as the seed baseline.

What makes it the *original* (and what our engine replaced):
- one `Head` module per attention head, each with its own key/query/value Linear (no bias);
- each head keeps its own key/value cache, grown with `torch.cat` every step (a new tensor per
  head per layer per token);
- the causal mask is rebuilt every step with `torch.tril(torch.ones(T, T))` + `masked_fill`;
- head outputs are joined with `torch.cat`, then proj; LayerNorm / ReLU MLP (4x) as upstream;
- logits are computed for every position of a multi-token forward, then the last one is taken;
- past block_size it crops: the cache is dropped and the last block_size tokens are recomputed
  from position 0, every step from then on.

The attention scale is 1/sqrt(head_size), as in the engine's per-head reference test. Dropout is
left out (it is the identity in eval mode) and it runs under `torch.no_grad()`: both favour the
baseline, so a win over it is not an artefact. Parameter names are the upstream ones, so
`load_state_dict` takes an upstream v9-v12 model.pth (minus `.tril`); `from_model` takes our
`BabyGPT` through the same export `convert --to pth` writes.
"""

from __future__ import annotations

import time

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..engine.layouts import LAYOUTS, export_state_dict
from ..engine.model import BabyGPT, ModelConfig


class Head(nn.Module):
    def __init__(self, n_embd: int, head_size: int) -> None:
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.cache_k: torch.Tensor | None = None
        self.cache_v: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        k, q, v = self.key(x), self.query(x), self.value(x)
        if self.cache_k is not None and self.cache_v is not None:
            k = torch.cat([self.cache_k, k], dim=1)
            v = torch.cat([self.cache_v, v], dim=1)
        self.cache_k, self.cache_v = k, v
        Tk = k.size(1)
        wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5
        tril = torch.tril(torch.ones(Tk, Tk, device=x.device))[Tk - T :]  # rows of the new queries
        wei = wei.masked_fill(tril == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        return wei @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads = nn.ModuleList([Head(cfg.n_embd, cfg.head_size) for _ in range(cfg.n_head)])
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class FeedFoward(nn.Module):  # (sic) upstream spelling
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cfg.n_embd, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.sa = MultiHeadAttention(cfg)
        self.ffwd = FeedFoward(cfg)
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.ln2 = nn.LayerNorm(cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.sa(self.ln1(x))
        return x + self.ffwd(self.ln2(x))


class OriginalBabyGPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.token_embedding_table = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.postion_embedding_table = nn.Embedding(cfg.block_size, cfg.n_embd)  # (sic) upstream
        self.blocks = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_final = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size)
        self.cached = 0  # positions whose keys/values the heads hold

    @classmethod
    def from_state_dict(cls, cfg: ModelConfig, state_dict: dict[str, torch.Tensor]) -> OriginalBabyGPT:
        model = cls(cfg)
        sd = {k: v.float() for k, v in state_dict.items() if not k.endswith(".tril")}
        model.load_state_dict(sd, strict=True)
        return model.eval()

    @classmethod
    def from_model(cls, model: BabyGPT) -> OriginalBabyGPT:
        """The original model holding exactly our model's weights (a v9 layout)."""
        return cls.from_state_dict(model.config, export_state_dict(model, LAYOUTS["v9"]))

    def reset_cache(self) -> None:
        for head in self.modules():
            if isinstance(head, Head):
                head.cache_k = head.cache_v = None
        self.cached = 0

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits for every position of `idx`, which continues the cached positions."""
        B, T = idx.shape
        pos = torch.arange(self.cached, self.cached + T, device=idx.device)
        x = self.token_embedding_table(idx) + self.postion_embedding_table(pos)
        x = self.blocks(x)
        self.cached += T
        return self.lm_head(self.ln_final(x))


class OriginalLoop:
    """Greedy generation the upstream way; `generate` returns the ids and the time each was ready."""

    def __init__(self, model: OriginalBabyGPT) -> None:
        self.model = model
        self.device = model.lm_head.weight.device

    def _forward(self, ids: list[int]) -> torch.Tensor:
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)
        return self.model(idx)[0, -1]

    @torch.no_grad()
    def prefill(self, ids: list[int]) -> torch.Tensor:
        self.model.reset_cache()
        return self._forward(ids[-self.model.config.block_size :])

    @torch.no_grad()
    def generate(self, ids: list[int], n: int) -> tuple[list[int], list[float]]:
        block = self.model.config.block_size
        history = list(ids[-block:])
        logits = self.prefill(history)
        out: list[int] = []
        stamps: list[float] = []
        for step in range(n):
            token = int(torch.argmax(logits))
            stamps.append(time.perf_counter())
            out.append(token)
            history.append(token)
            if step == n - 1:
                break
            # Crop: past block_size, forget the cache and recompute the last block_size tokens from 0.
            logits = self.prefill(history) if self.model.cached >= block else self._forward([token])
        return out, stamps
