"""Fixtures for the app on the tiny model (tests/ui and tests/reliability). Registered by
`tests/conftest.py` as a plugin; the Pilot helpers themselves are in `tests/plugins/pilot.py`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.plugins.pilot import Options, WrappedBackend


@pytest.fixture
def backend(tiny_generator) -> WrappedBackend:
    return WrappedBackend(tiny_generator)


@pytest.fixture
def make_app(backend) -> Callable:
    """`make_app(params=..., **options)` → a BabyGPTApp whose loader returns the wrapped tiny model."""

    from babygpt_tui.api import SamplingParams
    from babygpt_tui.ui.app import BabyGPTApp

    def make(params: SamplingParams | None = None, start=None, **options) -> BabyGPTApp:
        """`start`: the app's StartOptions (config defaults, --session, autosave)."""
        backend.options = Options(**options)
        return BabyGPTApp(loader=lambda: backend, model_path="tiny.safetensors", params=params, options=start)

    return make
