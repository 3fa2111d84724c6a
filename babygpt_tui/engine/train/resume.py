"""The resume state next to the model (`<out>.resume.pt`): weights, optimizer moments, step and
counters, written atomically by rank 0 at every eval and read back by every rank on --resume.

It holds no random-generator state: every batch is drawn from a seed derived from (seed,
step, micro-batch), so a resumed run — with any number of processes — draws exactly the batches
an uninterrupted one would have. A resume file is user input: its keys and every value are
checked before anything is loaded, and each problem is one line naming the file.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ...atomic import write_atomic
from ..errors import DataError
from ..model import ModelConfig
from .files import write_error

FORMAT_VERSION = 2
REQUIRED = {"model", "opt", "iter", "elapsed", "tokens_seen", "best_val", "model_config", "vocab"}
OPTIONAL = {"format_version", "grad_accum", "world_size", "scaler"}
LEGACY = {"batch_rng", "torch_rng", "python_rng"}  # version 1 kept generator states; now ignored


@dataclass(frozen=True)
class ResumeState:
    model: dict[str, torch.Tensor]
    opt: dict[str, Any]
    iter: int
    elapsed: float
    tokens_seen: int
    best_val: float
    model_config: ModelConfig
    vocab: list[str]
    grad_accum: int | None  # None in version 1 files
    scaler: dict[str, Any] | None

    def to_dict(self, world_size: int) -> dict[str, Any]:
        state: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "opt": self.opt,
            "iter": self.iter,
            "elapsed": self.elapsed,
            "tokens_seen": self.tokens_seen,
            "best_val": self.best_val,
            "model_config": json.dumps(self.model_config.to_dict()),
            "vocab": json.dumps(self.vocab, ensure_ascii=False),
            "grad_accum": self.grad_accum,
            "world_size": world_size,
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler
        return state


def write_resume(path: Path, state: ResumeState, world_size: int, saved_iter: int) -> None:
    """Atomically replace the resume file; on failure the previous one is intact, no temp file
    is left, and the error says which iteration the saved state is at."""
    buf = io.BytesIO()
    torch.save(state.to_dict(world_size), buf)
    try:
        write_atomic(path, buf.getbuffer().tobytes())
    except OSError as e:
        raise write_error(path, e, saved_iter) from None


def read_resume(path: Path, model_config: ModelConfig, vocab: list[str]) -> ResumeState:
    """The resume state at `path`, checked to fit a run of `model_config` over `vocab`."""
    state = load_resume(path)
    if replace(state.model_config, dropout=model_config.dropout) != model_config:
        raise DataError(
            f"{path}: was trained with other dimensions ({state.model_config}); use the same flags to resume"
        )
    if state.vocab != vocab:
        raise DataError(f"{path}: was trained on a corpus with another vocabulary; use the same --data")
    return state


def grad_accum_for(given: int | None, saved: ResumeState | None, world_size: int) -> int:
    """Micro-batches per step: as given, else what the resumed run used, else one per process."""
    k = given or (saved.grad_accum if saved and saved.grad_accum else None) or world_size
    if k % world_size:
        why = "" if given else f" (the resumed run used {k}; keep the effective batch with --grad-accum)"
        raise DataError(
            f"--grad-accum {k} is not a multiple of the {world_size} processes{why}; "
            f"use --grad-accum {-(-k // world_size) * world_size} or another process count"
        )
    return k


def load_resume(path: Path) -> ResumeState:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged or hostile file is the user's problem to fix, not a bug
        first = (str(e).splitlines() or [type(e).__name__])[0][:150]
        raise DataError(f"{path}: cannot read resume state ({first})") from None
    return parse_resume(obj, path)


def parse_resume(obj: object, path: Path) -> ResumeState:
    def bad(what: str) -> DataError:
        return DataError(f"{path}: damaged resume state ({what}); delete it to start over")

    if not isinstance(obj, dict):
        raise bad(f"a {type(obj).__name__}, not a dict")
    keys = set(obj)
    if unknown := sorted(str(k) for k in keys - REQUIRED - OPTIONAL - LEGACY):
        raise bad(f"unknown key {', '.join(unknown)}")
    if missing := sorted(REQUIRED - keys):
        raise bad(f"missing {', '.join(missing)}")
    version = obj.get("format_version", 1)
    if version not in (1, FORMAT_VERSION) or isinstance(version, bool):
        raise DataError(f"{path}: resume state format {version!r} is not one this version reads (1 or 2)")

    def integer(name: str) -> int:
        value = obj[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(f"{name} = {value!r} is not a whole number of 0 or more")
        return value

    def number(name: str, allow_inf: bool = False) -> float:
        value = obj[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or math.isnan(value) or (math.isinf(value) and not allow_inf) or value < 0:
            raise bad(f"{name} = {value!r} is not a number of 0 or more")
        return float(value)

    model = obj["model"]
    if not isinstance(model, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in model.items()):
        raise bad("model is not a dict of named tensors")
    opt = obj["opt"]
    if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict) and isinstance(opt.get("param_groups"), list)):
        raise bad("opt is not an optimizer state")
    grad_accum = obj.get("grad_accum")
    if grad_accum is not None and (not isinstance(grad_accum, int) or isinstance(grad_accum, bool) or grad_accum < 1):
        raise bad(f"grad_accum = {grad_accum!r} is not a whole number of 1 or more")
    scaler = obj.get("scaler")
    if scaler is not None and not isinstance(scaler, dict):
        raise bad("scaler is not a dict")
    return ResumeState(
        model=model,
        opt=opt,
        iter=integer("iter"),
        elapsed=number("elapsed"),
        tokens_seen=integer("tokens_seen"),
        best_val=number("best_val", allow_inf=True),
        model_config=_model_config(obj["model_config"], bad),
        vocab=_vocab(obj["vocab"], bad),
        grad_accum=grad_accum,
        scaler=scaler,
    )


def _model_config(value: object, bad: Any) -> ModelConfig:
    try:
        fields = json.loads(value) if isinstance(value, str) else None
        if not isinstance(fields, dict):
            raise TypeError("not a JSON object")
        return ModelConfig(**fields)
    except (ValueError, TypeError) as e:
        raise bad(f"model_config: {str(e)[:120]}") from None


def _vocab(value: object, bad: Any) -> list[str]:
    try:
        chars = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        chars = None
    if (
        not isinstance(chars, list)
        or not all(isinstance(c, str) and len(c) == 1 for c in chars)
        or len(set(chars)) != len(chars)
    ):
        raise bad("vocab is not a list of distinct characters")
    return chars


def restore_optimizer(opt: torch.optim.Optimizer, saved: dict[str, Any], path: Path) -> None:
    """Load the saved moments and step counts into `opt`. Hyperparameters stay the ones this run
    was started with (so --weight-decay can change on resume, and a crafted file cannot set them)."""
    mine = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    try:
        opt.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as e:
        raise DataError(f"{path}: optimizer state does not fit this model ({str(e)[:120]})") from None
    for group, hyper in zip(opt.param_groups, mine, strict=True):
        group.update(hyper)
    for p, st in opt.state.items():
        for key, value in st.items():
            if key == "step":
                ok = torch.is_tensor(value) and value.numel() == 1 and bool(torch.isfinite(value).all())
            else:
                ok = torch.is_tensor(value) and value.shape == p.shape
            if not ok:
                raise DataError(f"{path}: optimizer state {key!r} does not fit the model; delete it to start over")
