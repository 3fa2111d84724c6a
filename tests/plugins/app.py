"""Fixtures for the app on the tiny model (tests/ui and tests/reliability). Registered by
`tests/conftest.py` as a plugin; the engines and Pilot helpers are in `tests/plugins/pilot.py`.

`make_app(params, start, **options)` runs the engine in this process (over the real protocol)
around the `backend` wrapper; `make_child_app(params, start, delay=...)` runs it as the real
child process on a tiny checkpoint, as `babygpt-tui` does."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from tests.plugins.pilot import InProcessEngine, Options, WrappedBackend


@pytest.fixture
def backend(tiny_generator) -> WrappedBackend:
    return WrappedBackend(tiny_generator)


@pytest.fixture
def truecolor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's colour system is read from the environment (COLORTERM, TERM) when it is built:
    pin it, so heat-map colours and snapshots do not depend on the terminal the tests run in.
    A test of another colour system sets COLORTERM / TERM itself before building the app."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def make_app(backend, truecolor) -> Callable:
    """`make_app(params=..., start=..., **Options)` → a BabyGPTApp on the wrapped tiny model."""
    from babygpt_tui.api import Load, SamplingParams
    from babygpt_tui.ui.app import BabyGPTApp

    def make(params: SamplingParams | None = None, start=None, **options) -> BabyGPTApp:
        """`start`: the app's StartOptions (config defaults, --session, autosave)."""
        backend.options = Options(**options)
        return BabyGPTApp(
            Load("tiny.safetensors"), lambda: InProcessEngine(lambda _: backend), params=params, options=start
        )

    return make


@pytest.fixture
def make_child_app(tiny_checkpoint, truecolor) -> Callable:
    """`make_child_app(params=..., start=..., delay=S)` → a BabyGPTApp whose engine is a real
    `babygpt-tui engine --stdio` child process on a tiny checkpoint (`delay`: seconds per token)."""
    from babygpt_tui.api import Load, SamplingParams
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.engine_client import ChildProcess, engine_env

    def make(params: SamplingParams | None = None, start=None, delay: float = 0.0) -> BabyGPTApp:
        command = [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio", "--token-delay", str(delay)]
        load = Load(str(tiny_checkpoint), device="cpu", dtype="float32", threads=1)
        return BabyGPTApp(load, lambda: ChildProcess(command, engine_env(1)), params=params, options=start)

    return make
