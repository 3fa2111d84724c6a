"""Checkpoint layouts: every other project's parameter names, and the map onto our one model.

A layout is a set of switches on `ModelConfig` (which optional parts exist) plus the key names a
project uses for them. Three families are read:

- the BabyGPT tutorial's `model.pth` files, step v1 (bigram) to v12 (Leavesfly/buildyourownllm);
- nanoGPT's `ckpt.pt` (fused `c_attn`, GELU, optional biases, tied `lm_head`);
- our own `.safetensors`, whose names are the model's (and whose metadata records the layout).

`detect` works on names and shapes alone, so a file is checked in full — every key, every
shape — before any tensor is built. Messages here are one line without the file name (the
loader adds it); key names from a file are shown with `!r`, so control characters are escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch

from .model import MAX_LAYERS, BabyGPT, ModelConfig

Shapes = Mapping[str, tuple[int, ...]]

NO_POSITIONS_BLOCK = 256  # v1 has no position table: any context works; this is the one we keep
BPE_VOCAB = 50257  # GPT-2's tokenizer: nanoGPT checkpoints this large are BPE models


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
AUTO_NOTE = "auto chose v7: v6 files have the same keys, pass --layout v6 for a v6 model"


def layout_of(cfg: ModelConfig) -> Layout:
    """The first layout whose switches match (v9 for what `train` builds), else CUSTOM."""
    for name in ("v9", "v8", "v7", "v6", "v5", "v4", "v3", "v2", "v1", "nanogpt"):
        if LAYOUTS[name].fits(cfg):
            return LAYOUTS[name]
    return CUSTOM


@dataclass(frozen=True)
class Detected:
    layout: Layout
    config: ModelConfig
    family: str  # "tutorial", "nanogpt" or "native"
    param_keys: tuple[str, ...]  # the file's keys that hold parameters (buffers, tied copies left out)
    note: str = ""  # why this layout, when it was a choice (v6/v7)


# ---------------------------------------------------------------- names


_PREFIXES = ("_orig_mod.", "module.")  # torch.compile and DataParallel wrappers
# Other nanoGPT-lecture descendants spell a few names differently; accept them.
_ALIASES = {"position_embedding_table.": "postion_embedding_table.", "ln_f.": "ln_final."}
_NANOGPT_MASK = re.compile(r"transformer\.h\.\d+\.attn\.bias$")  # the causal-mask buffer, not c_attn.bias


def normalize_names(names: list[str]) -> dict[str, str]:
    """Cleaned name -> the file's name, without wrapper prefixes and causal-mask buffers."""
    stripped = []
    for original in names:
        key = original
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        stripped.append((key, original))
    tutorial = any(key == "token_embedding_table.weight" for key, _ in stripped)
    out: dict[str, str] = {}
    for key, original in stripped:
        if tutorial:
            for old, new in _ALIASES.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
        if key.endswith(".tril") or _NANOGPT_MASK.match(key):
            continue
        if key in out:
            raise LayoutError(f"key {key!r} appears twice ({out[key]!r} and {original!r})")
        out[key] = original
    return out


# ---------------------------------------------------------------- expected shapes


def _tutorial_shapes(name: str, cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    V, C, D, hidden = cfg.vocab_size, cfg.n_embd, cfg.head_size, cfg.hidden
    s: dict[str, tuple[int, ...]] = {
        "token_embedding_table.weight": (V, C),
        "lm_head.weight": (V, C),
        "lm_head.bias": (V,),
    }
    if cfg.positions:
        s["postion_embedding_table.weight"] = (cfg.block_size, C)

    def heads(prefix: str, n: int, size: int) -> None:
        for h in range(n):
            for part in ("key", "query", "value"):
                s[f"{prefix}.heads.{h}.{part}.weight"] = (size, C)

    if name == "v3":
        for part in ("key", "query", "value"):
            s[f"sa_head.{part}.weight"] = (C, C)
    elif name in ("v4", "v5"):
        heads("sa_heads", cfg.n_head, D)
        if name == "v5":
            s["ffwd.net.0.weight"], s["ffwd.net.0.bias"] = (C, C), (C,)
    elif cfg.n_layer:
        for i in range(cfg.n_layer):
            b = f"blocks.{i}"
            heads(f"{b}.sa", cfg.n_head, D)
            s[f"{b}.ffwd.net.0.weight"], s[f"{b}.ffwd.net.0.bias"] = (hidden, C), (hidden,)
            if cfg.attn_proj:
                s[f"{b}.sa.proj.weight"], s[f"{b}.sa.proj.bias"] = (C, C), (C,)
            if cfg.mlp_layers == 2:
                s[f"{b}.ffwd.net.2.weight"], s[f"{b}.ffwd.net.2.bias"] = (C, hidden), (C,)
            if cfg.layer_norm:
                for ln in ("ln1", "ln2"):
                    s[f"{b}.{ln}.weight"], s[f"{b}.{ln}.bias"] = (C,), (C,)
        if cfg.layer_norm:
            s["ln_final.weight"], s["ln_final.bias"] = (C,), (C,)
    return s


def _nanogpt_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    V, C, hidden = cfg.vocab_size, cfg.n_embd, cfg.hidden
    s: dict[str, tuple[int, ...]] = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (cfg.block_size, C)}

    def linear(name: str, out: int, inp: int) -> None:
        s[f"{name}.weight"] = (out, inp)
        if cfg.bias:
            s[f"{name}.bias"] = (out,)

    def norm(name: str) -> None:
        s[f"{name}.weight"] = (C,)
        if cfg.bias:
            s[f"{name}.bias"] = (C,)

    for i in range(cfg.n_layer):
        h = f"transformer.h.{i}"
        norm(f"{h}.ln_1")
        linear(f"{h}.attn.c_attn", 3 * C, C)
        linear(f"{h}.attn.c_proj", C, C)
        norm(f"{h}.ln_2")
        linear(f"{h}.mlp.c_fc", hidden, C)
        linear(f"{h}.mlp.c_proj", C, hidden)
    norm("transformer.ln_f")
    if not cfg.tie_embeddings:
        s["lm_head.weight"] = (V, C)
    return s


def canonical_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Our own names and shapes, from the model itself built on the meta device (no memory)."""
    with torch.device("meta"):
        sd = BabyGPT(cfg).state_dict()
    if cfg.tie_embeddings:
        del sd["lm_head.weight"]
    return {k: tuple(v.shape) for k, v in sd.items()}


def _compare(found: Shapes, expected: Mapping[str, tuple[int, ...]], what: str) -> None:
    """The whole key set and every shape, or one line naming the first difference."""
    missing = [k for k in expected if k not in found]
    extra = sorted(k for k in found if k not in expected)
    if missing:
        more = f" (and {len(missing) - 1:,} more)" if len(missing) > 1 else ""
        raise LayoutError(f"looks like {what}, but {missing[0]!r} is missing{more}")
    if extra:
        more = f" (and {len(extra) - 1:,} more)" if len(extra) > 1 else ""
        raise LayoutError(f"looks like {what}, but has an unexpected key {extra[0]!r}{more}")
    for key, shape in expected.items():
        if tuple(found[key]) != shape:
            raise LayoutError(
                f"shape mismatch in {what}: {key!r} is {_dims(found[key])}, expected {_dims(shape)} "
                "(the weights do not fit a model of the inferred size)"
            )


def _dims(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def _indices(shapes: Shapes, pattern: str) -> set[int]:
    rx = re.compile(pattern)
    return {int(m.group(1)) for k in shapes if (m := rx.match(k))}


def _count(found: set[int], what: str, limit: int = MAX_LAYERS) -> int:
    if len(found) > limit:
        raise LayoutError(f"keys for {len(found):,} {what}, more than the {limit:,} this app runs")
    if found != set(range(len(found))):
        raise LayoutError(f"{what} are not numbered 0..N-1 (found {sorted(found)[:5]} ...)")
    return len(found)


def _config(what: str, **kwargs: Any) -> ModelConfig:
    try:
        return ModelConfig(**kwargs)
    except ValueError as e:
        raise LayoutError(f"shape mismatch in {what}: {e}") from None


def _matrix(shapes: Shapes, key: str, what: str) -> tuple[int, int]:
    shape = tuple(shapes[key])
    if len(shape) != 2:
        raise LayoutError(f"shape mismatch in {what}: {key!r} is {_dims(shape)}, expected a matrix")
    return shape[0], shape[1]


# ---------------------------------------------------------------- detection


def detect(
    shapes: Shapes,
    requested: str = "auto",
    native_config: Mapping[str, Any] | None = None,
    recorded: str | None = None,
    model_args: Mapping[str, Any] | None = None,
) -> Detected:
    """Which layout a state_dict is, and the config it implies, from its names and shapes.

    `shapes`: cleaned names (see `normalize_names`). `requested`: --layout (auto or a name).
    `native_config`/`recorded`: the config and layout our own metadata holds. `model_args`:
    nanoGPT's, which alone knows n_head (c_attn fuses the heads).
    """
    if requested not in CHOICES:
        raise LayoutError(f"unknown layout {requested!r}; use one of: {', '.join(CHOICES)}")
    if "tok_emb.weight" in shapes:
        detected = _detect_native(shapes, native_config, recorded)
    elif "transformer.wte.weight" in shapes:
        detected = _detect_nanogpt(shapes, model_args)
    elif "token_embedding_table.weight" in shapes:
        detected = _detect_tutorial(shapes)
    else:
        sample = ", ".join(repr(k) for k in sorted(shapes)[:3]) or "none"
        raise LayoutError(
            f"not a BabyGPT or nanoGPT model: no token embedding (found {len(shapes):,} "
            f"key{'s' if len(shapes) != 1 else ''} such as {sample}); "
            f"supported: {SUPPORTED}"
        )
    return _apply_request(detected, requested)


def _apply_request(detected: Detected, requested: str) -> Detected:
    if requested == "auto" or requested == detected.layout.name:
        return detected
    wanted = LAYOUTS[requested]
    if detected.family == "native" and not wanted.fits(detected.config):
        raise LayoutError(
            f"--layout {requested} does not fit: this file records {detected.layout.description} "
            "(convert the original file again with --layout to change it)"
        )
    if wanted.keys != detected.layout.keys:
        same = _same_keys(detected.layout)
        raise LayoutError(
            f"--layout {requested} does not fit: the keys are those of {detected.layout.description}"
            + (f" (or {same})" if same else "")
        )
    return replace(detected, layout=wanted, config=replace(detected.config, **wanted.parts), note="")


def _same_keys(layout: Layout) -> str:
    return ", ".join(n for n, other in LAYOUTS.items() if other.keys == layout.keys and n != layout.name)


def _detect_tutorial(shapes: Shapes) -> Detected:
    def has(pattern: str) -> bool:
        rx = re.compile(pattern)
        return any(rx.match(k) for k in shapes)

    blocks = _indices(shapes, r"blocks\.(\d+)\.")
    if blocks:
        n_layer = _count(blocks, "blocks")
        if not has(r"blocks\.\d+\.sa\.heads\."):
            raise LayoutError(
                f"unknown layout: keys for {n_layer:,} blocks but no attention heads; supported: {SUPPORTED}"
            )
        if not has(r"blocks\.\d+\.ffwd\.net\.0\."):
            raise LayoutError(
                f"unknown layout: keys for {n_layer:,} attention blocks but no feed-forward; supported: {SUPPORTED}"
            )
        if has(r"blocks\.\d+\.ln[12]\.") or has(r"ln_final\."):
            name = "v9"
        elif has(r"blocks\.\d+\.sa\.proj\.") or has(r"blocks\.\d+\.ffwd\.net\.2\."):
            name = "v8"
        else:
            name = "v7"
        head_prefix = "blocks.0.sa"
    elif has(r"sa_heads\."):
        n_layer, name, head_prefix = 1, "v5" if has(r"ffwd\.") else "v4", "sa_heads"
    elif has(r"sa_head\."):
        n_layer, name, head_prefix = 1, "v3", ""
    else:
        n_layer, name, head_prefix = 0, "v2" if "postion_embedding_table.weight" in shapes else "v1", ""
    layout = LAYOUTS[name]
    what = layout.description
    vocab, n_embd = _matrix(shapes, "token_embedding_table.weight", what)
    block_size = NO_POSITIONS_BLOCK
    if layout.parts["positions"]:
        if "postion_embedding_table.weight" not in shapes:
            raise LayoutError(f"looks like {what}, but 'postion_embedding_table.weight' is missing")
        block_size = _matrix(shapes, "postion_embedding_table.weight", what)[0]
    n_head, hidden = 1, 0
    if head_prefix:
        n_head = _count(_indices(shapes, re.escape(head_prefix) + r"\.heads\.(\d+)\."), "attention heads", limit=n_embd)
        key = f"{head_prefix}.heads.0.key.weight"
        if key in shapes and _matrix(shapes, key, what)[0] * n_head != n_embd:
            size = shapes[key][0]
            raise LayoutError(
                f"shape mismatch in {what}: {n_head} heads of size {size} do not add up to n_embd {n_embd}"
            )
        fc1 = "blocks.0.ffwd.net.0.weight"
        if layout.parts["mlp_layers"] == 2 and fc1 in shapes:
            hidden = _matrix(shapes, fc1, what)[0]
    parts = {k: v for k, v in layout.parts.items() if k not in ("n_layer", "n_head")}
    cfg = _config(what, vocab_size=vocab, block_size=block_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head, **parts)
    cfg = _config(what, **{**cfg.to_dict(), "ffn_hidden": 0 if hidden in (0, 4 * n_embd) else hidden})
    _compare(shapes, _tutorial_shapes(name, cfg), what)
    note = AUTO_NOTE if name == "v7" else ""
    return Detected(layout, cfg, "tutorial", tuple(_tutorial_shapes(name, cfg)), note)


def _detect_nanogpt(shapes: Shapes, model_args: Mapping[str, Any] | None) -> Detected:
    layout = LAYOUTS["nanogpt"]
    what = "a nanoGPT model"
    if model_args is None:
        raise LayoutError(
            "nanoGPT weights without their model_args (c_attn fuses the heads, so n_head is unknown); "
            "pass the ckpt.pt that nanoGPT's train.py writes"
        )
    n_head = model_args.get("n_head")
    if not isinstance(n_head, int) or isinstance(n_head, bool) or n_head < 1:
        raise LayoutError(f"nanoGPT model_args has no valid n_head (got {n_head!r})")
    vocab, n_embd = _matrix(shapes, "transformer.wte.weight", what)
    if vocab >= BPE_VOCAB:
        raise LayoutError(
            f"a GPT-2 BPE model (vocabulary {vocab:,}): out of scope, only character-level models load "
            "(such as nanoGPT's shakespeare_char)"
        )
    if "transformer.wpe.weight" not in shapes:
        raise LayoutError(f"looks like {what}, but 'transformer.wpe.weight' is missing")
    block_size = _matrix(shapes, "transformer.wpe.weight", what)[0]
    n_layer = _count(_indices(shapes, r"transformer\.h\.(\d+)\."), "blocks")
    bias = "transformer.ln_f.bias" in shapes
    fc = "transformer.h.0.mlp.c_fc.weight"
    hidden = _matrix(shapes, fc, what)[0] if fc in shapes else 4 * n_embd
    parts = dict(layout.parts)
    cfg = _config(
        what,
        vocab_size=vocab,
        block_size=block_size,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        ffn_hidden=0 if hidden == 4 * n_embd else hidden,
        bias=bias,
        qkv_bias=bias,
        tie_embeddings=True,
        **parts,
    )
    expected = _nanogpt_shapes(cfg)
    head = shapes.get("lm_head.weight")
    if head is not None and tuple(head) != (vocab, n_embd):
        raise LayoutError(
            f"shape mismatch in {what}: 'lm_head.weight' is {_dims(head)}, expected {_dims((vocab, n_embd))}"
        )
    # lm_head is tied to wte (train.py saves both names); to_canonical unties it if they differ.
    _compare({k: v for k, v in shapes.items() if k != "lm_head.weight"}, expected, what)
    for name in ("n_layer", "n_embd", "block_size", "vocab_size"):
        given = model_args.get(name)
        if given is not None and given != getattr(cfg, name):
            raise LayoutError(f"nanoGPT model_args say {name} = {given!r}, the weights {getattr(cfg, name)}")
    return Detected(layout, cfg, "nanogpt", tuple(expected))


def _native_config(raw: Mapping[str, Any] | None) -> ModelConfig:
    if raw is None:
        raise LayoutError("a babygpt-tui file without its config in the metadata; re-create or re-convert it")
    types = {f.name: f.type for f in fields(ModelConfig)}
    for key, value in raw.items():
        kind = types.get(key)
        if kind is None:
            raise LayoutError(f"unknown config key {key!r} in the metadata (written by a newer babygpt-tui?)")
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(str(kind), False)
        if not ok:
            raise LayoutError(f"config {key} = {value!r} in the metadata is not a valid {kind}")
    try:
        return ModelConfig(**raw)
    except (TypeError, ValueError) as e:
        raise LayoutError(f"config in the metadata is not valid: {e}") from None


def _detect_native(shapes: Shapes, raw: Mapping[str, Any] | None, recorded: str | None) -> Detected:
    cfg = _native_config(raw)
    if recorded is not None and recorded not in LAYOUTS:
        raise LayoutError(f"its metadata records an unknown layout {recorded!r} (written by a newer babygpt-tui?)")
    layout = LAYOUTS[recorded] if recorded else layout_of(cfg)
    if layout is CUSTOM or not layout.fits(cfg):
        raise LayoutError(
            f"its metadata records layout {recorded!r}, which does not match its config; re-convert the original file"
            if recorded
            else "its config matches no supported layout; re-convert the original file"
        )
    what = f"a babygpt-tui model of layout {layout.name}"
    # The metadata's sizes must be the tensors' before a (meta-device) model of them is built.
    dims = {"tok_emb.weight": (cfg.vocab_size, cfg.n_embd), "pos_emb.weight": (cfg.block_size, cfg.n_embd)}
    for key, shape in dims.items():
        if key in shapes and tuple(shapes[key]) != shape:
            raise LayoutError(f"its config says {key!r} is {_dims(shape)} but the tensor is {_dims(shapes[key])}")
    if cfg.hidden > 64 * cfg.n_embd:
        raise LayoutError(f"its config has an MLP {cfg.hidden:,} wide for n_embd {cfg.n_embd}; a damaged file")
    expected = canonical_shapes(cfg)
    _compare(shapes, expected, what)
    return Detected(layout, cfg, "native", tuple(expected))


# ---------------------------------------------------------------- to our names and back


def to_canonical(sd: Mapping[str, torch.Tensor], detected: Detected) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """The file's tensors (cleaned names) under our names; the config (an untied nanoGPT head unties it)."""
    cfg = detected.config
    if detected.family == "native":
        return {k: sd[k] for k in detected.param_keys}, cfg
    if detected.family == "nanogpt":
        out = _from_nanogpt(sd, cfg)
        head = sd.get("lm_head.weight")
        if head is not None and not torch.equal(head, sd["transformer.wte.weight"]):
            out["lm_head.weight"] = head
            cfg = replace(cfg, tie_embeddings=False)
        return out, cfg
    return _from_tutorial(sd, detected.layout, cfg), cfg


def _from_tutorial(sd: Mapping[str, torch.Tensor], layout: Layout, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    out = {"tok_emb.weight": sd["token_embedding_table.weight"]}
    if cfg.positions:
        out["pos_emb.weight"] = sd["postion_embedding_table.weight"]
    for i in range(cfg.n_layer):
        for ours, theirs in _tutorial_block_names(layout, cfg, i).items():
            if isinstance(theirs, list):
                out[ours] = torch.cat([sd[name] for name in theirs])
            else:
                out[ours] = sd[theirs]
    for ours, theirs in (("ln_f", "ln_final"), ("lm_head", "lm_head")):
        for part in ("weight", "bias"):
            if f"{theirs}.{part}" in sd:
                out[f"{ours}.{part}"] = sd[f"{theirs}.{part}"]
    return out


def _tutorial_block_names(layout: Layout, cfg: ModelConfig, i: int) -> dict[str, str | list[str]]:
    """Our names in block i -> the tutorial's (a list: concatenated into the fused qkv)."""
    if layout.name == "v3":
        heads, ffwd = ["sa_head"], ""
    elif layout.name in ("v4", "v5"):
        heads, ffwd = [f"sa_heads.heads.{h}" for h in range(cfg.n_head)], "ffwd.net" if layout.name == "v5" else ""
    else:
        heads, ffwd = [f"blocks.{i}.sa.heads.{h}" for h in range(cfg.n_head)], f"blocks.{i}.ffwd.net"
    b = f"blocks.{i}"
    names: dict[str, str | list[str]] = {
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


_NANOGPT_BLOCK = {
    "ln1": "ln_1",
    "attn.qkv": "attn.c_attn",
    "attn.proj": "attn.c_proj",
    "ln2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}


def _nanogpt_names(cfg: ModelConfig) -> dict[str, str]:
    """Our names -> nanoGPT's."""
    names = {"tok_emb.weight": "transformer.wte.weight", "pos_emb.weight": "transformer.wpe.weight"}
    parts = ("weight", "bias") if cfg.bias else ("weight",)
    for i in range(cfg.n_layer):
        for ours, theirs in _NANOGPT_BLOCK.items():
            for part in parts:
                names[f"blocks.{i}.{ours}.{part}"] = f"transformer.h.{i}.{theirs}.{part}"
    for part in parts:
        names[f"ln_f.{part}"] = f"transformer.ln_f.{part}"
    return names


def _from_nanogpt(sd: Mapping[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    return {ours: sd[theirs] for ours, theirs in _nanogpt_names(cfg).items()}


def export_state_dict(model: BabyGPT, layout: Layout) -> dict[str, torch.Tensor]:
    """Our model's weights under `layout`'s own names, as its scripts' `load_state_dict` expects
    them (tutorial: with each head's `tril` buffer; nanoGPT: `lm_head.weight` tied to `wte`)."""
    cfg = model.config
    if not layout.fits(cfg):
        raise LayoutError(f"this model is {layout_of(cfg).description}, not {layout.description}")
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    if layout.name == "nanogpt":
        out = {theirs: sd[ours] for ours, theirs in _nanogpt_names(cfg).items()}
        out["lm_head.weight"] = sd["lm_head.weight"]
        return out
    if cfg.mlp_layers == 2 and cfg.hidden != 4 * cfg.n_embd:
        raise LayoutError(f"the tutorial's scripts build a 4 x n_embd MLP; this model's is {cfg.hidden} wide")
    out = {"token_embedding_table.weight": sd["tok_emb.weight"]}
    if cfg.positions:
        out["postion_embedding_table.weight"] = sd["pos_emb.weight"]
    tril = torch.tril(torch.ones(cfg.block_size, cfg.block_size))
    D = cfg.head_size
    for i in range(cfg.n_layer):
        for ours, theirs in _tutorial_block_names(layout, cfg, i).items():
            if isinstance(theirs, list):  # split the fused qkv back into per-head key/query/value
                for n, name in enumerate(theirs):
                    out[name] = sd[ours][n * D : (n + 1) * D].clone()
                for head in {name.rsplit(".", 2)[0] for name in theirs}:
                    out[f"{head}.tril"] = tril
            else:
                out[theirs] = sd[ours]
    if cfg.layer_norm:
        out["ln_final.weight"], out["ln_final.bias"] = sd["ln_f.weight"], sd["ln_f.bias"]
    out["lm_head.weight"], out["lm_head.bias"] = sd["lm_head.weight"], sd["lm_head.bias"]
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
