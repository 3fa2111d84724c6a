"""Checkpoint layouts: which exist, and every other project's parameter names.

A layout is a set of switches on `ModelConfig` (which optional parts the model has) plus the
key names its project uses. Read are the BabyGPT tutorial's steps v1 (bigram) ... v12
(Leavesfly/buildyourownllm, `model.pth`), nanoGPT's `ckpt.pt`, and our own `.safetensors`, whose
names are the model's and whose metadata records the layout. `name_map` is the one map between
our names and theirs: the expected shapes of a file (layout_detect.py), the load (`to_canonical`)
and the export (`export_state_dict`, for `convert --to pth`) all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from .model import BabyGPT, ModelConfig

if TYPE_CHECKING:
    from .layout_detect import Detected

NO_POSITIONS_BLOCK = 256  # v1 has no position table: any context works; this is the one we keep


class LayoutError(ValueError):
    """A file whose keys or shapes fit no supported layout; the message is for the user."""


@dataclass(frozen=True)
class Layout:
    name: str  # "v1" ... "v12", "nanogpt", "custom"
    title: str
    summary: str
    parts: Mapping[str, Any] = field(default_factory=dict)  # ModelConfig fields this layout fixes
    keys: str = ""  # layouts with the same key names (v6/v7, v9-v12) share this
    script: str = ""  # the original script that builds and saves this model

    @property
    def description(self) -> str:
        return f"{self.title}: {self.summary}"

    def fits(self, cfg: ModelConfig) -> bool:
        if self.name == "nanogpt" and cfg.bias != cfg.qkv_bias:
            return False
        return all(getattr(cfg, k) == v for k, v in self.parts.items())


_TUTORIAL = {"bias": True, "qkv_bias": False, "head_bias": True, "tie_embeddings": False, "activation": "relu"}
# v1-v7: no LayerNorm, no projection; the residual arrives in v7
_FLAT = {**_TUTORIAL, "layer_norm": False, "attn_proj": False, "residual": False, "positions": True}
_V9 = {**_FLAT, "layer_norm": True, "attn_proj": True, "residual": True, "mlp_layers": 2}
SCRIPTS = {
    "v1": "babygpt_v1.py",
    "v2": "babygpt_v2_position.py",
    "v3": "babygpt_v3_self_attention.py",
    "v4": "babygpt_v4_multihead_attention.py",
    "v5": "babygpt_v5_feedforward.py",
    "v6": "babygpt_v6_block.py",
    "v7": "babygpt_v7_residual_connection.py",
    "v8": "babygpt_v8_projection.py",
    "v9": "babygpt_v9_layer_norm.py",
    "v10": "babygpt_v10_dropout.py",
    "v11": "babygpt_v11_hyper_params.py",
    "v12": "babygpt_v12_wandb.py",
}


def _step(name: str, summary: str, parts: Mapping[str, Any], keys: str = "") -> Layout:
    return Layout(name, f"BabyGPT tutorial {name}", summary, parts, keys or name, SCRIPTS[name])


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        _step("v1", "bigram, the head reads the last token's embedding", {**_FLAT, "positions": False, "n_layer": 0}),
        _step("v2", "token + learned position embeddings, no attention", {**_FLAT, "n_layer": 0}),
        _step(
            "v3",
            "one attention head as wide as the embedding, its output replaces x",
            {**_FLAT, "n_layer": 1, "n_head": 1, "mlp_layers": 0},
        ),
        _step("v4", "heads concatenated, no projection, no residual", {**_FLAT, "n_layer": 1, "mlp_layers": 0}),
        _step("v5", "v4 then a ReLU feed-forward (n -> n), no residual", {**_FLAT, "n_layer": 1, "mlp_layers": 1}),
        _step("v6", "blocks of attention and ReLU feed-forward, no residual", {**_FLAT, "mlp_layers": 1}),
        _step(
            "v7",
            "v6 plus residual connections, no projection, no LayerNorm",
            {**_FLAT, "mlp_layers": 1, "residual": True},
            keys="v6",
        ),
        _step("v8", "attention projection and a 4x MLP, residual, no LayerNorm", {**_V9, "layer_norm": False}),
        _step("v9", "pre-LayerNorm (ln1, ln2, ln_final), as v10-v12", _V9),
        _step("v10", "v9 plus dropout (training only)", _V9, keys="v9"),
        _step("v11", "v10 at full size", _V9, keys="v9"),
        _step("v12", "v11 plus wandb logging", _V9, keys="v9"),
        Layout(
            "nanogpt",
            "nanoGPT",
            "fused c_attn, GELU MLP, LayerNorm, lm_head tied to wte",
            {
                "positions": True,
                "layer_norm": True,
                "residual": True,
                "attn_proj": True,
                "mlp_layers": 2,
                "activation": "gelu",
                "head_bias": False,
            },
            "nanogpt",
            "model.py (train.py writes ckpt.pt)",
        ),
    )
}
CUSTOM = Layout("custom", "custom", "a combination of parts no known layout has", {}, "custom")
CHOICES = ("auto", *LAYOUTS)
SUPPORTED = "BabyGPT tutorial v1-v12 (model.pth), nanoGPT character models (ckpt.pt) and babygpt-tui .safetensors"


def layout_of(cfg: ModelConfig) -> Layout:
    """The first layout whose switches match (v9 for what `train` builds), else CUSTOM."""
    for name in ("v9", "v8", "v7", "v6", "v5", "v4", "v3", "v2", "v1", "nanogpt"):
        if LAYOUTS[name].fits(cfg):
            return LAYOUTS[name]
    return CUSTOM


# ---------------------------------------------------------------- our names <-> theirs

NameMap = dict[str, str | list[str]]  # ours -> theirs (a list: concatenated into our fused qkv)

_NANOGPT_BLOCK = {
    "ln1": "ln_1",
    "attn.qkv": "attn.c_attn",
    "attn.proj": "attn.c_proj",
    "ln2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}


def name_map(layout: Layout, cfg: ModelConfig) -> NameMap:
    """Every parameter of our model of `cfg`, by its name in `layout` (tied heads: `tok_emb` only)."""
    ours = canonical_shapes(cfg)
    if layout.name == "nanogpt":
        return {k: _nanogpt_name(k) for k in ours}
    names: NameMap = {"tok_emb.weight": "token_embedding_table.weight"}
    if cfg.positions:
        names["pos_emb.weight"] = "postion_embedding_table.weight"
    for i in range(cfg.n_layer):
        names |= _tutorial_block(layout, cfg, i)
    for ours_name, theirs in (("ln_f", "ln_final"), ("lm_head", "lm_head")):
        for part in ("weight", "bias"):
            if f"{ours_name}.{part}" in ours:
                names[f"{ours_name}.{part}"] = f"{theirs}.{part}"
    return names


def _nanogpt_name(ours: str) -> str:
    if ours.startswith("blocks."):
        _, i, rest = ours.split(".", 2)
        module, part = rest.rsplit(".", 1)
        return f"transformer.h.{i}.{_NANOGPT_BLOCK[module]}.{part}"
    first = {"tok_emb": "transformer.wte", "pos_emb": "transformer.wpe", "ln_f": "transformer.ln_f"}
    module, part = ours.split(".", 1)
    return f"{first.get(module, module)}.{part}"


def _tutorial_block(layout: Layout, cfg: ModelConfig, i: int) -> NameMap:
    if layout.name == "v3":
        heads, ffwd = ["sa_head"], ""
    elif layout.name in ("v4", "v5"):
        heads, ffwd = [f"sa_heads.heads.{h}" for h in range(cfg.n_head)], "ffwd.net" if layout.name == "v5" else ""
    else:
        heads, ffwd = [f"blocks.{i}.sa.heads.{h}" for h in range(cfg.n_head)], f"blocks.{i}.ffwd.net"
    b = f"blocks.{i}"
    names: NameMap = {
        f"{b}.attn.qkv.weight": [f"{h}.{part}.weight" for part in ("query", "key", "value") for h in heads]
    }
    pairs = [(f"{b}.mlp.fc1", f"{ffwd}.0")] if ffwd else []
    if cfg.attn_proj:
        pairs.append((f"{b}.attn.proj", f"{b}.sa.proj"))
    if cfg.mlp_layers == 2:
        pairs.append((f"{b}.mlp.fc2", f"{ffwd}.2"))
    if cfg.layer_norm:
        pairs += [(f"{b}.ln1", f"{b}.ln1"), (f"{b}.ln2", f"{b}.ln2")]
    for ours, theirs in pairs:
        names[f"{ours}.weight"], names[f"{ours}.bias"] = f"{theirs}.weight", f"{theirs}.bias"
    return names


def canonical_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Our names and shapes, from the model itself built on the meta device (no memory); a tied
    head is stored once, as `tok_emb.weight`."""
    with torch.device("meta"):
        sd = BabyGPT(cfg).state_dict()
    if cfg.tie_embeddings:
        del sd["lm_head.weight"]
    return {k: tuple(v.shape) for k, v in sd.items()}


def foreign_shapes(layout: Layout, cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The names and shapes a file of `layout` holds for a model of `cfg` (buffers left out)."""
    ours = canonical_shapes(cfg)
    out: dict[str, tuple[int, ...]] = {}
    for name, theirs in name_map(layout, cfg).items():
        if isinstance(theirs, list):  # the fused qkv: one (head_size, n_embd) matrix per head and part
            rows = ours[name][0] // len(theirs)
            out |= {t: (rows, ours[name][1]) for t in theirs}
        else:
            out[theirs] = ours[name]
    return out


def to_canonical(sd: Mapping[str, torch.Tensor], detected: Detected) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """The file's tensors (cleaned names) under our names, and the config: a nanoGPT head that
    is not its wte after all (train.py ties them) unties it."""
    cfg = detected.config
    if detected.family == "native":
        return {k: sd[k] for k in detected.param_keys}, cfg
    out = {
        ours: torch.cat([sd[t] for t in theirs]) if isinstance(theirs, list) else sd[theirs]
        for ours, theirs in name_map(detected.layout, cfg).items()
    }
    head = sd.get("lm_head.weight")
    if detected.family == "nanogpt" and head is not None and not torch.equal(head, sd["transformer.wte.weight"]):
        out["lm_head.weight"] = head
        cfg = replace(cfg, tie_embeddings=False)
    return out, cfg


def export_state_dict(model: BabyGPT, layout: Layout) -> dict[str, torch.Tensor]:
    """Our model's weights under `layout`'s own names, as its code's `load_state_dict` expects
    them (tutorial: with each head's `tril` buffer; nanoGPT: `lm_head.weight` tied to `wte`)."""
    cfg = model.config
    if not layout.fits(cfg):
        raise LayoutError(f"this model is {layout_of(cfg).description}, not {layout.description}")
    if layout.name != "nanogpt" and cfg.mlp_layers == 2 and cfg.hidden != 4 * cfg.n_embd:
        raise LayoutError(f"the tutorial's scripts build a 4 x n_embd MLP; this model's is {cfg.hidden} wide")
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    tril = torch.tril(torch.ones(cfg.block_size, cfg.block_size))
    for ours, theirs in name_map(layout, cfg).items():
        if isinstance(theirs, list):  # split the fused qkv back into per-head query/key/value
            for part, name in zip(sd[ours].chunk(len(theirs)), theirs, strict=True):
                out[name] = part.clone()
                out[name.rsplit(".", 2)[0] + ".tril"] = tril
        else:
            out[theirs] = sd[ours]
    if layout.name == "nanogpt":
        out["lm_head.weight"] = sd["lm_head.weight"]
    return out


def nanogpt_model_args(cfg: ModelConfig) -> dict[str, Any]:
    """What nanoGPT's GPTConfig takes, for a ckpt.pt its sample.py loads."""
    return {
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_embd": cfg.n_embd,
        "block_size": cfg.block_size,
        "bias": cfg.bias,
        "vocab_size": cfg.vocab_size,
        "dropout": 0.0,
    }
