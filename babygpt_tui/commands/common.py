"""Helpers shared by the model-using subcommands: the default model and loading from flags."""

from __future__ import annotations

import argparse
import random
from importlib import resources
from pathlib import Path

from ..api import SamplingParams
from ..errors import UserError

BUNDLED_MODEL = "models/songci-small.safetensors"


def bundled_model_path() -> Path:
    """The model shipped inside the package, so the default works from any directory."""
    return Path(str(resources.files("babygpt_tui.assets") / BUNDLED_MODEL))


def model_path(args: argparse.Namespace) -> Path:
    return Path(args.model) if getattr(args, "model", None) else bundled_model_path()


def load_generator(args: argparse.Namespace):
    """Load the model named by --model/--vocab-from/--device/--dtype/--threads."""
    import torch

    from ..engine.generate import Generator

    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads = {threads} must be at least 1")
        torch.set_num_threads(threads)
    return Generator.load(
        model_path(args),
        getattr(args, "vocab_from", None),
        device=getattr(args, "device", None) or "auto",
        dtype=getattr(args, "dtype", None) or "auto",
    )


def sampling_from_args(args: argparse.Namespace, base: SamplingParams | None = None) -> SamplingParams:
    """SamplingParams from the flags that were given, on top of `base`; range-checked."""
    from dataclasses import replace

    given = {
        name: getattr(args, name)
        for name in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty", "max_new_tokens")
        if getattr(args, name, None) is not None
    }
    params = replace(base or SamplingParams(), **given)
    try:
        params.validate()
    except ValueError as e:
        raise UserError(f"--{str(e).replace('_', '-')}") from None
    return params


def seed_from_args(args: argparse.Namespace) -> int:
    seed = getattr(args, "seed", None)
    return seed if seed is not None else random.randrange(2**31)
