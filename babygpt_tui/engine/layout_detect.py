"""Which layout a file is, from its tensor names and shapes alone.

So a file is checked in full — every key, every shape against the config they imply — before
any tensor of the model is built. Messages are one line without the file name (the loader adds
it); names from the file are shown with `!r`, so control characters come out escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .layouts import (
    CHOICES,
    CUSTOM,
    LAYOUTS,
    NO_POSITIONS_BLOCK,
    SUPPORTED,
    Layout,
    LayoutError,
    canonical_shapes,
    foreign_shapes,
    layout_of,
)
from .model import MAX_LAYERS, ModelConfig

Shapes = Mapping[str, tuple[int, ...]]

BPE_VOCAB = 50257  # GPT-2's tokenizer: nanoGPT checkpoints this large are BPE models
AUTO_NOTE = "auto chose v7: v6 files have the same keys, pass --layout v6 for a v6 model"


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


# ---------------------------------------------------------------- helpers


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
    if key not in shapes:
        raise LayoutError(f"looks like {what}, but {key!r} is missing")
    shape = tuple(shapes[key])
    if len(shape) != 2:
        raise LayoutError(f"shape mismatch in {what}: {key!r} is {_dims(shape)}, expected a matrix")
    return shape[0], shape[1]


def _checked(layout: Layout, cfg: ModelConfig, shapes: Shapes, family: str, note: str = "") -> Detected:
    expected = foreign_shapes(layout, cfg) if family != "native" else canonical_shapes(cfg)
    what = layout.description if family != "native" else f"a babygpt-tui model of layout {layout.name}"
    _compare(shapes, expected, what)
    return Detected(layout, cfg, family, tuple(expected), note)


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
            f"key{'s' if len(shapes) != 1 else ''} such as {sample}); supported: {SUPPORTED}"
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
        same = ", ".join(
            n for n, other in LAYOUTS.items() if other.keys == detected.layout.keys and n != detected.layout.name
        )
        raise LayoutError(
            f"--layout {requested} does not fit: the keys are those of {detected.layout.description}"
            + (f" (or {same})" if same else "")
        )
    return replace(detected, layout=wanted, config=replace(detected.config, **wanted.parts), note="")


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
            name = "v7"  # or v6: the same keys (see AUTO_NOTE)
        heads = "blocks.0.sa"
    elif has(r"sa_heads\."):
        n_layer, name, heads = 1, "v5" if has(r"ffwd\.") else "v4", "sa_heads"
    elif has(r"sa_head\."):
        n_layer, name, heads = 1, "v3", ""
    else:
        n_layer, name, heads = 0, "v2" if "postion_embedding_table.weight" in shapes else "v1", ""
    layout = LAYOUTS[name]
    what = layout.description
    vocab, n_embd = _matrix(shapes, "token_embedding_table.weight", what)
    block_size = NO_POSITIONS_BLOCK
    if layout.parts["positions"]:
        block_size = _matrix(shapes, "postion_embedding_table.weight", what)[0]
    n_head, hidden = 1, 0
    if heads:
        n_head = _count(_indices(shapes, re.escape(heads) + r"\.heads\.(\d+)\."), "attention heads", limit=n_embd)
        size = _matrix(shapes, f"{heads}.heads.0.key.weight", what)[0]
        if size * n_head != n_embd:
            raise LayoutError(
                f"shape mismatch in {what}: {n_head} heads of size {size} do not add up to n_embd {n_embd}"
            )
        if layout.parts.get("mlp_layers") == 2:
            hidden = _matrix(shapes, "blocks.0.ffwd.net.0.weight", what)[0]
    parts = {k: v for k, v in layout.parts.items() if k not in ("n_layer", "n_head")}
    cfg = _config(
        what,
        vocab_size=vocab,
        block_size=block_size,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        ffn_hidden=0 if hidden in (0, 4 * n_embd) else hidden,
        **parts,
    )
    return _checked(layout, cfg, shapes, "tutorial", AUTO_NOTE if name == "v7" else "")


def _detect_nanogpt(shapes: Shapes, model_args: Mapping[str, Any] | None) -> Detected:
    layout, what = LAYOUTS["nanogpt"], "a nanoGPT model"
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
    block_size = _matrix(shapes, "transformer.wpe.weight", what)[0]
    n_layer = _count(_indices(shapes, r"transformer\.h\.(\d+)\."), "blocks")
    fc = "transformer.h.0.mlp.c_fc.weight"
    hidden = _matrix(shapes, fc, what)[0] if fc in shapes else 4 * n_embd
    bias = "transformer.ln_f.bias" in shapes
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
        **layout.parts,
    )
    for name in ("n_layer", "n_embd", "block_size", "vocab_size"):
        given = model_args.get(name)
        if given is not None and given != getattr(cfg, name):
            raise LayoutError(f"nanoGPT model_args say {name} = {given!r}, the weights {getattr(cfg, name)}")
    # train.py saves lm_head.weight and wte (tied) both; to_canonical unties them if they differ.
    head = shapes.get("lm_head.weight")
    if head is not None and tuple(head) != (vocab, n_embd):
        raise LayoutError(
            f"shape mismatch in {what}: 'lm_head.weight' is {_dims(head)}, expected {_dims((vocab, n_embd))}"
        )
    return _checked(layout, cfg, {k: v for k, v in shapes.items() if k != "lm_head.weight"}, "nanogpt")


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
    # The metadata's sizes must be the tensors' before a (meta-device) model of them is built.
    dims = {"tok_emb.weight": (cfg.vocab_size, cfg.n_embd), "pos_emb.weight": (cfg.block_size, cfg.n_embd)}
    for key, shape in dims.items():
        if key in shapes and tuple(shapes[key]) != shape:
            raise LayoutError(f"its config says {key!r} is {_dims(shape)} but the tensor is {_dims(shapes[key])}")
    if cfg.hidden > 64 * cfg.n_embd:
        raise LayoutError(f"its config has an MLP {cfg.hidden:,} wide for n_embd {cfg.n_embd}; a damaged file")
    return _checked(layout, cfg, shapes, "native")
