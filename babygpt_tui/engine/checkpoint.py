"""Load and save models: every file becomes our one `BabyGPT`, checked in full before anything
is allocated.

Files read:
- native: one `.safetensors`; config, vocabulary and layout are JSON strings in its metadata, so
  the file needs nothing else. Format 2 uses our own tensor names; format 1 (the bundled model)
  the BabyGPT v9 names.
- a BabyGPT tutorial `model.pth` (a plain state_dict, any step v1-v12) plus the training corpus,
  from which the vocabulary is rebuilt as sorted(set(text)).
- a nanoGPT character `ckpt.pt` plus its `meta.pkl` (see nanogpt.py).

Loading goes: names and shapes -> layout and config (layouts.detect: every key and shape) ->
parameter bytes against the file size -> vocabulary -> tensors -> our names -> the model, built
on the meta device and given the tensors (no second copy, no random init). Every problem a user
can cause becomes a one-line CheckpointError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..atomic import atomic_path
from .data import read_corpus
from .errors import CheckpointError
from .layout_detect import Detected, detect, normalize_names
from .layouts import LAYOUTS, Layout, LayoutError, export_state_dict, layout_of, nanogpt_model_args, to_canonical
from .model import BabyGPT, ModelConfig
from .nanogpt import find_meta, is_meta, read_meta
from .tokenizer import CharTokenizer

FORMAT = "babygpt-tui"
FORMAT_VERSION = 2  # 2: our tensor names and the layout in the metadata; 1: BabyGPT v9 names
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")
# safetensors dtype names -> (torch name, bytes per element)
SAFETENSORS_DTYPES = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
}
CACHE_SLACK = 64 << 20  # the KV cache may exceed 4x the file by this much (tiny models, long contexts)


@dataclass
class LoadedModel:
    model: BabyGPT
    tokenizer: CharTokenizer
    path: Path
    kind: str  # "native" (.safetensors), "upstream" (a BabyGPT tutorial model.pth) or "nanogpt"
    sha256: str
    file_size: int
    metadata: dict[str, str]
    stored_dtype: str = "float32"  # dtype of the weights in the file (the model loads as float32)
    layout: Layout = field(default_factory=lambda: LAYOUTS["v9"])
    layout_note: str = ""  # how the layout was chosen, when it was a choice (v6/v7)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def vocab_from_corpus(corpus: str | Path) -> CharTokenizer:
    """The vocabulary of an upstream model.pth: sorted(set(training text))."""
    return CharTokenizer.from_text(read_corpus(corpus, flag="--vocab-from"))


def vocab_from_file(source: str | Path) -> CharTokenizer:
    """--vocab-from: a nanoGPT meta.pkl, or the training text (sorted(set(text)))."""
    path = Path(source)
    return read_meta(path) if path.is_file() and is_meta(path) else vocab_from_corpus(path)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


# ---------------------------------------------------------------- what a file holds


@dataclass
class _Contents:
    """A file's tensors by cleaned name, known by shape and dtype before any is loaded."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, tuple[str, int]]  # (torch dtype name, bytes per element)
    load: Callable[[list[str]], dict[str, torch.Tensor]]  # cleaned names -> tensors
    metadata: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # nanoGPT's model_args


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    # safetensors before pickle: its first byte is the header length's low byte, 0x80 in 1 of 256 files
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return "safetensors"
    if head[:1] == b"\x80":
        return "pickle"
    return "unknown"


def _damaged(path: Path, e: BaseException) -> CheckpointError:
    return CheckpointError(f"{path}: damaged safetensors file ({_first_line(e)}); re-create or re-download it")


def _clean(path: Path, names: list[str]) -> dict[str, str]:
    try:
        return normalize_names(names)
    except LayoutError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _read_native(path: Path) -> _Contents:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            header = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as e:  # safetensors raises several types for damaged files
        raise _damaged(path, e) from None
    names = _clean(path, list(header))
    dtypes = {}
    for clean, original in names.items():
        kind = header[original][1]
        if kind not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {original!r} is {kind}, expected floating point weights")
        dtypes[clean] = SAFETENSORS_DTYPES[kind]

    def load(wanted: list[str]) -> dict[str, torch.Tensor]:
        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(names[k]) for k in wanted}
        except Exception as e:
            raise _damaged(path, e) from None

    return _Contents({k: header[v][0] for k, v in names.items()}, dtypes, load, meta)


def _read_torch(path: Path) -> _Contents:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e).lower():
            raise CheckpointError(
                f"{path}: refused: the file holds Python objects, not just tensors, and could run code; "
                "only plain state_dicts are loaded (save one with torch.save(model.state_dict(), path))"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint or corrupt ({_first_line(e)})") from None
    except Exception as e:  # a damaged file fails in many ways (zip, pickle, storage); all mean "corrupt"
        raise CheckpointError(f"{path}: truncated or corrupt PyTorch file ({_first_line(e)})") from None
    extras: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and isinstance(obj.get("model_args"), dict):
        extras = {"model_args": obj["model_args"]}  # nanoGPT's train.py: model, model_args, config, ...
        config = obj.get("config")
        dataset = config.get("dataset") if isinstance(config, dict) else None
        if isinstance(dataset, str):  # where its meta.pkl lives (data/<dataset>/), kept by convert
            metadata["dataset"] = dataset
        obj = obj["model"]
    elif isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise CheckpointError(f"{path}: not a state_dict (expected a dict of tensors, got {type(obj).__name__})")
    names = _clean(path, list(obj))
    tensors = {clean: obj[original] for clean, original in names.items()}
    for clean, t in tensors.items():
        if not torch.is_floating_point(t):
            raise CheckpointError(f"{path}: tensor {names[clean]!r} is {t.dtype}, expected floating point weights")
    return _Contents(
        {k: tuple(t.shape) for k, t in tensors.items()},
        {k: (str(t.dtype).removeprefix("torch."), t.element_size()) for k, t in tensors.items()},
        lambda wanted: {k: tensors[k] for k in wanted},
        metadata,
        extras,
    )


# ---------------------------------------------------------------- checks before allocating


def _native_config(path: Path, meta: dict[str, str]) -> dict[str, Any] | None:
    if meta.get("format") == FORMAT:
        try:
            version = int(meta.get("format_version", "1"))
        except ValueError:
            raise CheckpointError(f"{path}: damaged metadata (format_version {meta['format_version']!r})") from None
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{path}: written by a newer babygpt-tui (format {version}); upgrade to load it")
    if "config" not in meta:
        return None
    try:
        raw = json.loads(meta["config"])
    except ValueError as e:
        raise CheckpointError(f"{path}: damaged config in its metadata ({e})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: damaged config in its metadata (not a JSON object)")
    return raw


def _check_size(path: Path, contents: _Contents, detected: Detected, file_size: int) -> None:
    """The parameters must be in the file: a state_dict can hold many views of one storage (and
    a header can claim anything), so a small file could otherwise make us allocate gigabytes."""
    needed = sum(math.prod(contents.shapes[k]) * contents.dtypes[k][1] for k in detected.param_keys)
    if needed > file_size:
        raise CheckpointError(
            f"{path}: its tensors claim {needed / 1e6:,.1f} MB of weights but the file is {file_size / 1e6:,.1f} MB; "
            "a corrupt or hostile file"
        )
    cfg = detected.config
    cache = 2 * cfg.n_layer * cfg.block_size * cfg.n_embd * 4  # float32 keys and values
    if cache > 4 * file_size + CACHE_SLACK:
        raise CheckpointError(
            f"{path}: a context of {cfg.block_size:,} over {cfg.n_layer} layers needs {cache / 1e9:,.1f} GB of "
            "KV cache, out of proportion to the file; a corrupt or hostile file"
        )


# ---------------------------------------------------------------- public API


def load_checkpoint(path: str | Path, vocab_from: str | Path | None = None, layout: str = "auto") -> LoadedModel:
    """Load a native .safetensors, a tutorial model.pth (with its corpus) or a nanoGPT ckpt.pt
    onto the CPU in float32. `layout`: auto, or a name in layouts.LAYOUTS (v6 for a v6 file).
    Move and fuse with `model.to(...).fuse()` before generating."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: model file not found; pass --model PATH to a .safetensors or model.pth")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; pass --model PATH to a .safetensors or model.pth file")
    try:
        kind = _sniff(path)
        file_size = path.stat().st_size
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
    if kind == "safetensors":
        contents = _read_native(path)
    elif kind in ("torch-zip", "pickle"):
        contents = _read_torch(path)
    else:
        raise CheckpointError(f"{path}: not a checkpoint (neither safetensors nor a PyTorch file)")
    meta = contents.metadata
    try:
        detected = detect(
            contents.shapes,
            requested=layout,
            native_config=_native_config(path, meta),
            recorded=meta.get("layout"),
            model_args=contents.extras.get("model_args"),
        )
    except LayoutError as e:
        raise CheckpointError(f"{path}: {e}") from None
    _check_size(path, contents, detected, file_size)
    tokenizer = _tokenizer_for(path, contents, detected, vocab_from)
    if tokenizer.vocab_size != detected.config.vocab_size:
        source = f"{vocab_from}" if vocab_from else "its vocabulary"
        raise CheckpointError(
            f"{path}: vocabulary mismatch: the model has {detected.config.vocab_size} tokens but {source} gives "
            f"{tokenizer.vocab_size}; pass the exact corpus (or meta.pkl) the model was trained on"
        )
    tensors = contents.load(sorted(set(detected.param_keys) | ({"lm_head.weight"} & set(contents.shapes))))
    canonical, cfg = to_canonical(tensors, detected)
    model = build_model(canonical, cfg, path)
    family = detected.family
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        path=path,
        kind="native" if kind == "safetensors" else ("nanogpt" if family == "nanogpt" else "upstream"),
        sha256=file_sha256(path),
        file_size=file_size,
        metadata=meta,
        stored_dtype=contents.dtypes[detected.param_keys[0]][0],
        layout=detected.layout,
        layout_note=detected.note,
    )


def build_model(sd: dict[str, torch.Tensor], cfg: ModelConfig, path: Path) -> BabyGPT:
    """Our model holding `sd` (our names, already checked against `cfg`), in float32."""
    with torch.device("meta"):
        model = BabyGPT(cfg)  # no memory, no random init: the file's tensors become the parameters
    sd = {k: v.float().contiguous() for k, v in sd.items()}
    if cfg.tie_embeddings:
        sd["lm_head.weight"] = sd["tok_emb.weight"]
    try:
        model.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise CheckpointError(f"{path}: weights do not fit a BabyGPT of the inferred size: {detail[:300]}") from None
    model.tie()
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise CheckpointError(f"{path}: weights contain NaN or infinity; the file is corrupt")
    return model


def _tokenizer_for(path: Path, contents: _Contents, detected: Detected, vocab_from: str | Path | None) -> CharTokenizer:
    if vocab_from is not None:
        return vocab_from_file(vocab_from)
    meta = contents.metadata
    if "vocab" in meta:
        try:
            return CharTokenizer(json.loads(meta["vocab"]))
        except ValueError as e:  # json.JSONDecodeError is a ValueError too
            raise CheckpointError(f"{path}: damaged vocabulary in its metadata ({e})") from None
    if detected.family == "nanogpt":
        return read_meta(find_meta(path, meta.get("dataset"), detected.config.vocab_size))
    if path.suffix == ".safetensors" or detected.family == "native":
        raise CheckpointError(f"{path}: no vocabulary in its metadata; pass --vocab-from CORPUS (the training text)")
    raise CheckpointError(f"{path}: a tutorial model.pth has no vocabulary; pass --vocab-from CORPUS (e.g. ci.txt)")


def save_checkpoint(
    path: str | Path,
    model: BabyGPT,
    tokenizer: CharTokenizer,
    dtype: torch.dtype | None = None,
    extra: dict[str, str] | None = None,
    layout: Layout | None = None,
) -> Path:
    """Write a self-describing .safetensors file by `atomic.atomic_path`'s rules.

    `layout`: what the metadata records (default: the first layout whose parts the config has,
    v9 for what `train` builds); a converted file keeps the one it was loaded as."""
    path = Path(path)
    cfg = model.config
    cfg_dict = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "dropout"}
    meta = {
        **(extra or {}),
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(cfg_dict),
        "layout": (layout or layout_of(cfg)).name,
        "vocab": json.dumps(tokenizer.chars, ensure_ascii=False),
    }
    state = model.state_dict()
    if cfg.tie_embeddings:  # one tensor, stored once (safetensors refuses shared tensors)
        del state["lm_head.weight"]
    tensors = {
        k: (v.detach().to(dtype) if dtype is not None else v.detach()).contiguous().cpu() for k, v in state.items()
    }
    return _write_atomically(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def save_pth(
    path: str | Path, model: BabyGPT, layout: Layout, dtype: torch.dtype | None = None, dataset: str | None = None
) -> Path:
    """Write the model under `layout`'s own names, as its original code saves it: a tutorial
    step's `torch.save(model.state_dict())` (its scripts' load_state_dict takes it back), or
    nanoGPT's ckpt.pt (`model` + `model_args`, which its sample.py reads; `dataset` names the
    data/<dataset>/meta.pkl it looks for)."""
    try:
        state = export_state_dict(model, layout)
    except LayoutError as e:
        raise CheckpointError(f"{path}: cannot write {layout.name}: {e}") from None
    if dtype is not None:
        state = {k: v if k.endswith(".tril") else v.to(dtype) for k, v in state.items()}
    obj: dict[str, Any] = state
    if layout.name == "nanogpt":
        if dtype is not None:  # .to() made two tensors of the tied pair; nanoGPT stores one
            state["lm_head.weight"] = state["transformer.wte.weight"]
        config = {"dataset": dataset} if dataset else {}
        obj = {"model": state, "model_args": nanogpt_model_args(model.config), "iter_num": 0, "config": config}
    return _write_atomically(Path(path), lambda tmp: torch.save(obj, tmp))


def _write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    """`write(tmp)`, then the temp file takes `path`'s place by `atomic.atomic_path`'s rules:
    atomic, through symlinks, and into a device or FIFO rather than replacing it (`--out /dev/null`)."""
    with atomic_path(path) as tmp:
        write(str(tmp))
    return path
