"""Helpers shared by the model-using subcommands: the default model and loading from flags."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import random_seed
from ..config import Settings, resolve_settings
from ..errors import UserError

if TYPE_CHECKING:
    from ..engine.generate import Generator

BUNDLED_MODEL = "models/songci-small.safetensors"


def bundled_model_path() -> Path:
    """The model shipped inside the package, so the default works from any directory."""
    return Path(str(resources.files("babygpt_tui.assets") / BUNDLED_MODEL))


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Effective settings: flags > config.toml > built-in defaults (range-checked)."""
    return resolve_settings(args)[0]


def load_generator(
    args: argparse.Namespace, settings: Settings | None = None, dtype: str | None = None, leave_a_core: bool = False
) -> Generator:
    """Load the model the settings name, on their device/dtype/threads (`dtype` overrides).

    `leave_a_core` (serve): unless threads are set, torch gets one thread fewer than the cores,
    so the event loop has one of its own (engine.device.set_threads says why)."""
    from ..engine.device import set_threads
    from ..engine.generate import Generator  # noqa: F811 (the runtime import: torch loads only here)
    from ..engine.layouts import CHOICES

    settings = settings or settings_from_args(args)
    layout = getattr(args, "layout", None) or "auto"
    if layout not in CHOICES:
        raise UserError(f"--layout {layout!r} is unknown; use one of: {', '.join(CHOICES)}")
    exact = bool(getattr(args, "exact", False))
    if exact and getattr(args, "context_keep", None) is not None:
        raise UserError("--exact sets the context keep to block_size-1; drop --context-keep or --exact")
    if exact and getattr(args, "dtype", None) not in (None, "float32", "fp32"):
        raise UserError(f"--exact runs in float32; drop --dtype {args.dtype} or --exact")
    if exact and settings.compile:
        raise UserError("--exact runs the plain decode step; drop --compile (or compile = true in config) or --exact")
    set_threads(settings.threads, leave_a_core)
    gen = Generator.load(
        Path(settings.model) if settings.model else bundled_model_path(),
        settings.vocab_from,
        device=settings.device,
        dtype=dtype or settings.dtype,
        layout=layout,
        exact=exact,
        compile=settings.compile,
    )
    if gen.compile_note:  # no C++ compiler: one line, and it decodes without compiling
        print(f"babygpt-tui: note: {gen.compile_note}", file=sys.stderr)
    return gen


def seed_of(settings: Settings) -> int:
    """The fixed seed, or a fresh random one (always reported, so any output can be reproduced)."""
    return settings.seed if settings.seed is not None else random_seed()


def model_path(args: argparse.Namespace) -> Path:
    return Path(args.model) if getattr(args, "model", None) else bundled_model_path()
