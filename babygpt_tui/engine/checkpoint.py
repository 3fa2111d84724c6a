"""Load and save models.

Two formats:
- native: one `.safetensors` file; config and vocabulary are JSON strings in its metadata, so the
  file needs nothing else to load. Tensor names are the upstream BabyGPT ones.
- upstream: the original BabyGPT `model.pth` (a plain state_dict saved with torch.save) plus the
  training corpus, from which the vocabulary is rebuilt as sorted(set(text)).

Every problem a user can cause becomes a one-line CheckpointError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .data import read_corpus
from .errors import CheckpointError
from .model import BabyGPT, ModelConfig
from .tokenizer import CharTokenizer

FORMAT = "babygpt-tui"
FORMAT_VERSION = 1

# Other nanoGPT-lecture descendants spell a few names differently; accept them.
ALIASES = {"position_embedding_table.": "postion_embedding_table.", "ln_f.": "ln_final."}
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")
STRIP_PREFIXES = ("_orig_mod.", "module.")


@dataclass
class LoadedModel:
    model: BabyGPT
    tokenizer: CharTokenizer
    path: Path
    kind: str  # "native" or "upstream"
    sha256: str
    file_size: int
    metadata: dict
    stored_dtype: str = "float32"  # dtype of the weights in the file (the model loads as float32)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def vocab_from_corpus(corpus: str | Path) -> CharTokenizer:
    """The vocabulary of an upstream model.pth: sorted(set(training text))."""
    return CharTokenizer.from_text(read_corpus(corpus, flag="--vocab-from"))


# ---------------------------------------------------------------- reading raw state_dicts


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if head[:1] == b"\x80":
        return "pickle"
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def _read_native(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except Exception as e:  # safetensors raises several types for damaged files
        raise CheckpointError(
            f"{path}: damaged safetensors file ({_first_line(e)}); re-create or re-download it"
        ) from None
    return tensors, meta


def _read_upstream(path: Path) -> dict[str, torch.Tensor]:
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
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state_dict (expected a dict of tensors, got {type(obj).__name__})")
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def normalize_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in sd.items():
        for prefix in STRIP_PREFIXES:
            key = key.removeprefix(prefix)
        for old, new in ALIASES.items():
            if key.startswith(old):
                key = new + key[len(old) :]
        if key.endswith(".tril"):  # causal-mask buffers: SDPA's is_causal replaces them
            continue
        out[key] = value
    return out


# ---------------------------------------------------------------- shape inference


def infer_config(sd: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    def need(key: str) -> torch.Tensor:
        if key not in sd:
            sample = ", ".join(sorted(sd)[:3])
            raise CheckpointError(f"{path}: not a BabyGPT model: missing {key} (has keys like {sample})")
        return sd[key]

    tok = need("token_embedding_table.weight")
    pos = need("postion_embedding_table.weight")
    layers = {int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d+)\.", k))}
    if not layers or layers != set(range(len(layers))):
        raise CheckpointError(f"{path}: not a BabyGPT model: transformer blocks missing or not numbered 0..N-1")
    heads = {int(m.group(1)) for k in sd if (m := re.match(r"blocks\.0\.sa\.heads\.(\d+)\.", k))}
    if not heads:
        raise CheckpointError(f"{path}: unsupported layout: no per-head attention weights (blocks.0.sa.heads.N)")
    key_w = need("blocks.0.sa.heads.0.key.weight")
    fc1 = need("blocks.0.ffwd.net.0.weight")
    for name, t in (("token_embedding_table", tok), ("postion_embedding_table", pos), ("key", key_w), ("ffwd", fc1)):
        if t.dim() != 2:
            raise CheckpointError(f"{path}: shape mismatch: {name} weight is {t.dim()}-D, expected 2-D")
    n_embd, hidden = tok.shape[1], fc1.shape[0]
    if key_w.shape[0] * len(heads) != n_embd:
        raise CheckpointError(
            f"{path}: shape mismatch: {len(heads)} heads of size {key_w.shape[0]} do not add up to n_embd {n_embd}"
        )
    try:
        return ModelConfig(
            vocab_size=tok.shape[0],
            block_size=pos.shape[0],
            n_embd=n_embd,
            n_layer=len(layers),
            n_head=len(heads),
            ffn_hidden=0 if hidden == 4 * n_embd else hidden,
        )
    except ValueError as e:
        raise CheckpointError(f"{path}: shape mismatch: {e}") from None


def build_model(sd: dict[str, torch.Tensor], cfg: ModelConfig, path: Path) -> BabyGPT:
    model = BabyGPT(cfg)
    for key, value in sd.items():
        if not torch.is_floating_point(value):
            raise CheckpointError(f"{path}: tensor {key} is {value.dtype}, expected floating point weights")
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise CheckpointError(f"{path}: weights do not fit a BabyGPT of the inferred size: {detail[:300]}") from None
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise CheckpointError(f"{path}: weights contain NaN or infinity; the file is corrupt")
    return model


# ---------------------------------------------------------------- public API


def load_checkpoint(path: str | Path, vocab_from: str | Path | None = None) -> LoadedModel:
    """Load a native .safetensors or an upstream model.pth (with its corpus) onto the CPU in
    the file's dtype. Move and fuse with `model.to(...).fuse()` before generating."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: model file not found; pass --model PATH to a .safetensors or model.pth")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; pass --model PATH to a .safetensors or model.pth file")
    try:
        kind = _sniff(path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
    meta: dict = {}
    if kind == "safetensors":
        sd, meta = _read_native(path)
    elif kind in ("torch-zip", "pickle"):
        sd = _read_upstream(path)
    else:
        raise CheckpointError(f"{path}: not a checkpoint (neither safetensors nor a PyTorch file)")
    sd = normalize_keys(sd)
    cfg = infer_config(sd, path)
    tokenizer = _tokenizer_for(path, meta, vocab_from, kind)
    if tokenizer.vocab_size != cfg.vocab_size:
        source = f"corpus {vocab_from}" if vocab_from else "its metadata"
        raise CheckpointError(
            f"{path}: vocabulary mismatch: the model has {cfg.vocab_size} tokens but {source} gives "
            f"{tokenizer.vocab_size}; pass the exact corpus the model was trained on"
        )
    model = build_model(sd, cfg, path)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        path=path,
        kind="native" if kind == "safetensors" else "upstream",
        sha256=file_sha256(path),
        file_size=path.stat().st_size,
        metadata=meta,
        stored_dtype=str(next(iter(sd.values())).dtype).removeprefix("torch."),
    )


def _tokenizer_for(path: Path, meta: dict, vocab_from: str | Path | None, kind: str) -> CharTokenizer:
    if vocab_from is not None:
        return vocab_from_corpus(vocab_from)
    if "vocab" in meta:
        try:
            chars = json.loads(meta["vocab"])
            return CharTokenizer(chars)
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: damaged vocabulary in metadata ({e})") from None
    if kind == "safetensors":
        raise CheckpointError(f"{path}: no vocabulary in its metadata; pass --vocab-from CORPUS (the training text)")
    raise CheckpointError(f"{path}: an upstream model.pth has no vocabulary; pass --vocab-from CORPUS (e.g. ci.txt)")


def save_checkpoint(
    path: str | Path,
    model: BabyGPT,
    tokenizer: CharTokenizer,
    dtype: torch.dtype | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write a self-describing .safetensors file atomically (temp file + os.replace)."""
    path = Path(path)
    cfg = model.config
    cfg_dict = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "dropout"}
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(cfg_dict),
        "vocab": json.dumps(tokenizer.chars, ensure_ascii=False),
        **(extra or {}),
    }
    tensors = {
        k: (v.detach().to(dtype) if dtype is not None else v.detach()).contiguous().cpu()
        for k, v in model.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temp name in the same folder (so os.replace is atomic), created with normal permissions.
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.tmp"))
    try:
        save_file(tensors, tmp, metadata=meta)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
