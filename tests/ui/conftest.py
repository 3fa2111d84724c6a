"""Fixtures for the UI tests: the tiny in-memory model behind a recording backend wrapper."""

from __future__ import annotations

from typing import Callable

import pytest
from ui_helpers import Options, WrappedBackend

from babygpt_tui.api import SamplingParams


@pytest.fixture
def backend(tiny_generator) -> WrappedBackend:
    return WrappedBackend(tiny_generator)


@pytest.fixture
def make_app(backend: WrappedBackend) -> Callable:
    """`make_app(params=..., **options)` → a BabyGPTApp whose loader returns the wrapped tiny model."""
    from babygpt_tui.ui.app import BabyGPTApp

    def make(params: SamplingParams | None = None, start=None, **options) -> BabyGPTApp:
        """`start`: the app's StartOptions (config defaults, --session, autosave)."""
        backend.options = Options(**options)
        return BabyGPTApp(loader=lambda: backend, model_path="tiny.safetensors", params=params, options=start)

    return make
