"""The one model every checkpoint layout loads onto, read top to bottom: config -> attention ->
MLP -> block -> model.

A GPT with optional parts, so each step of the BabyGPT tutorial (v1 bigram ... v12) and nanoGPT
are the same code with different switches: a position table, pre-LayerNorms, residual
connections, an attention output projection, an MLP of 0, 1 (n -> n) or 2 (n -> h -> n) layers
with ReLU or GELU, biases, 0..N blocks, a head tied to the token embedding. Parameter names are
our own (fused `qkv`, `proj`, `fc1`/`fc2`); other projects' names live in `layouts.py`.

Two forward paths: `forward` (training, scoring and the prompt prefill, always from position 0)
and `decode_step` (one token against the KV cache: flat functional code, the fast path).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn as nn
from torch.nn import functional as F

from .kernels import add_linear, linear, pack
from .kvcache import KVCache, attention_dtype

ACTIVATIONS = ("relu", "gelu")
# Far beyond any model this app can run on a laptop: bounds for sizes read from hostile files.
MAX_LAYERS = 1024
MAX_DIM = 1 << 24


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    block_size: int = 128
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 8
    ffn_hidden: int = 0  # 0 => 4 * n_embd for a two-layer MLP (a one-layer MLP is n -> n)
    dropout: float = 0.0
    # Optional parts. The defaults are BabyGPT v9-v12 (and what `train` builds).
    positions: bool = True  # a learned position table (v1 has none)
    layer_norm: bool = True  # pre-LayerNorm in every block and before the head
    residual: bool = True  # x + f(x) around attention and MLP (v3-v6: x = f(x))
    attn_proj: bool = True  # an output projection after the heads
    mlp_layers: int = 2  # 0: none, 1: act(Linear(n, n)), 2: Linear(act(Linear(n, h)))
    activation: str = "relu"  # "relu" or "gelu" (nanoGPT)
    bias: bool = True  # biases of the projection, the MLP and the LayerNorms
    qkv_bias: bool = False
    head_bias: bool = True
    tie_embeddings: bool = False  # lm_head shares the token embedding's weight (nanoGPT)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_head"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("vocab_size", "block_size", "n_embd", "n_head", "ffn_hidden"):
            if getattr(self, name) > MAX_DIM:
                raise ValueError(f"{name} must be at most {MAX_DIM:,}, got {getattr(self, name):,}")
        if not 0 <= self.n_layer <= MAX_LAYERS:
            raise ValueError(f"n_layer must be 0 to {MAX_LAYERS}, got {self.n_layer}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.mlp_layers not in (0, 1, 2):
            raise ValueError(f"mlp_layers must be 0, 1 or 2, got {self.mlp_layers}")
        if self.mlp_layers == 1 and self.ffn_hidden not in (0, self.n_embd):
            raise ValueError(f"a one-layer MLP is n_embd wide, got ffn_hidden {self.ffn_hidden}")
        if self.ffn_hidden < 0:
            raise ValueError(f"ffn_hidden must be 0 (default) or more, got {self.ffn_hidden}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be relu or gelu, got {self.activation!r}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def hidden(self) -> int:
        if self.mlp_layers == 1:
            return self.n_embd
        return self.ffn_hidden or 4 * self.n_embd

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _layer_norm(cfg: ModelConfig) -> nn.LayerNorm | None:
    return nn.LayerNorm(cfg.n_embd, bias=cfg.bias) if cfg.layer_norm else None


def _activate(h: torch.Tensor, activation: str) -> torch.Tensor:
    return F.gelu(h) if activation == "gelu" else F.relu(h)


class Attention(nn.Module):
    """Causal self-attention, all heads in one fused `qkv` matrix: (3 * n_embd, n_embd) holding all
    queries, then all keys, then all values, heads in order."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.head_size = cfg.n_head, cfg.head_size
        self.scale = cfg.head_size**-0.5  # as upstream (and SDPA's default)
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.qkv_bias)
        self.proj: nn.Linear | None = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias) if cfg.attn_proj else None
        # Dropout on the output only, not on the attention weights: with dropout_p > 0 CPU SDPA
        # leaves its fused kernel for the math path (measured: a quarter of training step time).
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, probe: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Causal over `x` from position 0; with a cache, also store its keys/values there. With
        `probe`, append this layer's attention weights (B, H, T, T) to it and mix the values with
        those very weights (SDPA never exposes its own), so what is shown is what was computed."""
        B, T, C = x.shape
        qkv = self.qkv(x)
        low = qkv.dtype  # the projections' dtype (bf16 for bf16/int8 weights, or under autocast)
        qkv = qkv.to(attention_dtype(x.device, low))  # as the decode step attends: float32 on a CPU
        q, k, v = qkv.view(B, T, 3, self.n_head, self.head_size).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache.update(layer, 0, k, v)
        if probe is None:
            # A prefill attends over its own fresh k/v (so a float32 prefill can fill a bf16 cache).
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            later = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            weights = (q @ k.transpose(-2, -1) * self.scale).masked_fill(later, float("-inf")).softmax(-1)
            probe.append(weights)
            y = weights @ v
        y = y.transpose(1, 2).reshape(B, T, C).to(low)
        if self.proj is not None:
            y = self.proj(y)
        out: torch.Tensor = self.dropout(y)
        return out


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.activation = cfg.activation
        self.fc1 = nn.Linear(cfg.n_embd, cfg.hidden, bias=cfg.bias)
        self.fc2: nn.Linear | None = nn.Linear(cfg.hidden, cfg.n_embd, bias=cfg.bias) if cfg.mlp_layers == 2 else None
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _activate(self.fc1(x), self.activation)
        if self.fc2 is not None:
            h = self.fc2(h)
        out: torch.Tensor = self.dropout(h)
        return out


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.residual = cfg.residual
        self.ln1 = _layer_norm(cfg)
        self.attn = Attention(cfg)
        self.ln2 = _layer_norm(cfg) if cfg.mlp_layers else None
        self.mlp = MLP(cfg) if cfg.mlp_layers else None

    def forward(
        self, x: torch.Tensor, cache: KVCache | None, layer: int, probe: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        a = self.attn(self.ln1(x) if self.ln1 is not None else x, cache, layer, probe)
        x = x + a if self.residual else a
        if self.mlp is not None:
            m = self.mlp(self.ln2(x) if self.ln2 is not None else x)
            x = x + m if self.residual else m
        return x


class LayerWeights(NamedTuple):
    """One block's tensors for `decode_step` (None: the part is absent)."""

    ln1_w: torch.Tensor | None
    ln1_b: torch.Tensor | None
    qkv_w: torch.Tensor
    qkv_b: torch.Tensor | None
    proj_w: torch.Tensor | None
    proj_b: torch.Tensor | None
    ln2_w: torch.Tensor | None
    ln2_b: torch.Tensor | None
    fc1_w: torch.Tensor | None
    fc1_b: torch.Tensor | None
    fc2_w: torch.Tensor | None
    fc2_b: torch.Tensor | None
    # per-row scales of int8 weights (quant.py); None for float weights
    qkv_s: torch.Tensor | None = None
    proj_s: torch.Tensor | None = None
    fc1_s: torch.Tensor | None = None
    fc2_s: torch.Tensor | None = None


def _scale(layer: nn.Module | None) -> torch.Tensor | None:
    scale = getattr(layer, "scale", None)  # quant.Int8Linear's (quant.py imports this module)
    return scale if isinstance(scale, torch.Tensor) else None


def _packed(w: LayerWeights) -> LayerWeights:
    return w._replace(qkv_w=pack(w.qkv_w), proj_w=pack(w.proj_w), fc1_w=pack(w.fc1_w), fc2_w=pack(w.fc2_w))


def _weights(block: Block) -> LayerWeights:
    ln1, attn, ln2, mlp = block.ln1, block.attn, block.ln2, block.mlp
    fc1 = mlp.fc1 if mlp is not None else None
    fc2 = mlp.fc2 if mlp is not None else None
    return LayerWeights(
        ln1.weight if ln1 is not None else None,
        ln1.bias if ln1 is not None else None,
        attn.qkv.weight,
        attn.qkv.bias,
        attn.proj.weight if attn.proj is not None else None,
        attn.proj.bias if attn.proj is not None else None,
        ln2.weight if ln2 is not None else None,
        ln2.bias if ln2 is not None else None,
        fc1.weight if fc1 is not None else None,
        fc1.bias if fc1 is not None else None,
        fc2.weight if fc2 is not None else None,
        fc2.bias if fc2 is not None else None,
        _scale(attn.qkv),
        _scale(attn.proj),
        _scale(fc1),
        _scale(fc2),
    )


def _embedding(rows: int, dim: int) -> nn.Embedding:
    # On the meta device (shapes only, or a load that then assigns the file's tensors) PyTorch's
    # own init of an embedding runs a Python decomposition whose first use imports torch._dynamo:
    # a second of every launch of every command, for values nobody reads.
    if torch.get_default_device().type == "meta":
        return nn.Embedding(rows, dim, _weight=torch.empty(rows, dim))
    return nn.Embedding(rows, dim)


class BabyGPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = _embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb: nn.Embedding | None = _embedding(cfg.block_size, cfg.n_embd) if cfg.positions else None
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = _layer_norm(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=cfg.head_bias)
        self.tie()
        self._plan: list[LayerWeights] = []  # set by fuse()
        self._mask = torch.empty(0)  # set by fuse(): row p is 0 up to position p, -inf after it
        self._head: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None] = (torch.empty(0), None, None)

    def tie(self) -> None:
        """Share the token embedding with the head, if the config says so (again after assign-loads)."""
        if self.config.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight

    def layers(self) -> list[Block]:
        return [b for b in self.blocks if isinstance(b, Block)]

    def init_weights(self, seed: int | None = None) -> None:
        """GPT-2 style init for training from scratch (upstream used PyTorch defaults).

        The random draws come in the order of the tutorial's parameters — per head its key,
        query and value — so a seed gives `train` the same model it gave before the heads were
        fused (the bundled model's recipe stays reproducible)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        cfg = self.config
        D = cfg.head_size
        small = 0.02 / math.sqrt(2 * max(1, cfg.n_layer))  # residual projections: the stream's variance stays ~1
        draws: list[tuple[torch.Tensor, float]] = [(self.tok_emb.weight, 0.02)]
        if self.pos_emb is not None:
            draws.append((self.pos_emb.weight, 0.02))
        for block in self.layers():
            q, k, v = block.attn.qkv.weight.chunk(3)
            for h in range(cfg.n_head):
                rows = slice(h * D, (h + 1) * D)
                draws += [(k[rows], 0.02), (q[rows], 0.02), (v[rows], 0.02)]
            if block.attn.proj is not None:
                draws.append((block.attn.proj.weight, small))
            if block.mlp is not None:
                draws.append((block.mlp.fc1.weight, 0.02))
                if block.mlp.fc2 is not None:
                    draws.append((block.mlp.fc2.weight, small))
        if not cfg.tie_embeddings:
            draws.append((self.lm_head.weight, 0.02))
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif p.dim() == 1:  # LayerNorm weights
                    p.fill_(1.0)
            for tensor, std in draws:
                tensor.normal_(0.0, std, generator=gen)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def fuse(self, packed: bool = True) -> BabyGPT:
        """Prepare for inference: eval mode and the decode plan. Call after moving device/dtype.
        packed=False keeps bf16 weights as they are, not in oneDNN's layout (kernels.pack):
        `torch.compile` cannot read packed tensors (inductor packs them itself)."""
        self.eval()
        plan = [_weights(block) for block in self.layers()]
        self._plan = [_packed(w) for w in plan] if packed else plan
        head = self.lm_head
        self._head = (pack(head.weight) if packed else head.weight, _scale(head), head.bias)
        w = self.tok_emb.weight  # the activations' dtype (an int8 model's weights are int8)
        block = self.config.block_size
        att = attention_dtype(w.device, w.dtype)
        self._mask = torch.full((block, block), float("-inf"), device=w.device, dtype=att).triu(1)
        return self

    def decode_step(
        self, token: int | torch.Tensor, cache: KVCache, pos: int | torch.Tensor, seen: int | None = None
    ) -> torch.Tensor:
        """One token at position `pos` of a batch-1 cache; its logits (V,). `token` and `pos`:
        ints, or one-element long tensors on the model's device (what the Generator passes).
        `seen`: attend over positions 0..seen-1 (seen = pos + 1, what eager steps pass), or,
        None, over the whole cache buffer with the positions after `pos` masked: then the step
        has the same shapes and no Python numbers at every position, and `torch.compile` of it
        (compile.py) is one graph for the whole reply.

        The same math as `forward`, written flat with functional calls: a decode step is ~15
        small ops per layer around the weight matmuls, and module calls, shape checks and views
        cost ~10 % of the step. The mask is baddbmm's input (no extra op); two plain matmuls
        replace CPU SDPA, whose flash kernel was the largest single cost of a one-query step.
        Needs `fuse()`; call it under `torch.inference_mode()` (the Generator does).
        """
        cfg = self.config
        C, H, D = cfg.n_embd, cfg.n_head, cfg.head_size
        residual, gelu, scale = cfg.residual, cfg.activation == "gelu", cfg.head_size**-0.5
        device = self.tok_emb.weight.device
        if not isinstance(token, torch.Tensor):
            token = torch.tensor([token], device=device)
        if not isinstance(pos, torch.Tensor):
            pos = torch.tensor([pos], device=device)
        token, pos = token.view(1), pos.view(1)
        x = F.embedding(token, self.tok_emb.weight)  # (1, C)
        if self.pos_emb is not None:
            x = x + F.embedding(pos, self.pos_emb.weight)
        # (1, block): the positions this query may not see are -inf; seeing all of 0..pos, zeros
        # (the causal mask's last row): one view, no lookup
        mask = F.embedding(pos, self._mask) if seen is None else self._mask[-1:].narrow(1, 0, seen)
        # attention in the cache's dtype (float32 on a CPU, see attention_dtype); softmax in
        # float32 whatever it is: bf16/fp16 scores would lose the small probabilities
        convert, low = x.dtype != mask.dtype, mask.dtype != torch.float32
        for i, layer in enumerate(self._plan):
            (ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b) = layer[:12]
            qkv_s, proj_s, fc1_s, fc2_s = layer[12:]
            h = F.layer_norm(x, (C,), ln1_w, ln1_b) if ln1_w is not None else x
            qkv = linear(h, qkv_w, qkv_s, qkv_b)
            qkv = (qkv.to(mask.dtype) if convert else qkv).view(3, H, 1, D)
            q = qkv[0]
            # the filled part of the cache, or all of it masked (see KVCache.write_step)
            keys, values = cache.write_step(i, pos, qkv[1:], seen)  # (H, seen or block, D)
            att = torch.baddbmm(mask, q, keys.transpose(1, 2), alpha=scale)
            att = att.float().softmax(-1).to(q.dtype) if low else att.softmax(-1)
            y = torch.bmm(att, values).view(1, C)
            y = y.to(x.dtype) if convert else y
            if proj_w is None:
                x = x + y if residual else y
            else:
                x = add_linear(x, y, proj_w, proj_s, proj_b) if residual else linear(y, proj_w, proj_s, proj_b)
            if fc1_w is None:
                continue
            h = F.layer_norm(x, (C,), ln2_w, ln2_b) if ln2_w is not None else x
            h = linear(h, fc1_w, fc1_s, fc1_b)
            h = F.gelu(h) if gelu else h.relu_()
            if fc2_w is None:
                x = x + h if residual else h
            else:
                x = add_linear(x, h, fc2_w, fc2_s, fc2_b) if residual else linear(h, fc2_w, fc2_s, fc2_b)
        if self.ln_f is not None:
            x = F.layer_norm(x, (C,), self.ln_f.weight, self.ln_f.bias)
        logits: torch.Tensor = linear(x, *self._head)[0]
        return logits

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
        attention: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for `idx` at positions 0..T-1 (and the loss against `targets`). With a cache,
        this is the prefill: it stores every position's keys/values for `decode_step`. With
        `attention` (a list), each block appends its weights softmax(q·kᵀ/√d) under the causal
        mask, (B, H, T, T) per layer, in layer order: what `explain` shows."""
        length = idx.size(1)
        if length > self.config.block_size:
            # The original indexes past its position table here and crashes; callers must crop.
            raise ValueError(f"positions 0..{length - 1} exceed block_size {self.config.block_size}")
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[:length]
        for i, block in enumerate(self.layers()):
            x = block(x, cache, i, attention)
        if last_only:
            x = x[:, -1:, :]
        if self.ln_f is not None:
            x = self.ln_f(x)
        logits: torch.Tensor = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss
