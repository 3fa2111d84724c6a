"""Shared fixtures live in plugins (tiny models: `plugins/models.py`; the app on a tiny model:
`plugins/app.py`); this file registers them and keeps every test away from the real home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.plugins.models", "tests.plugins.app", "tests.plugins.disks", "tests.plugins.training"]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never touch the real config or sessions: BABYGPT_TUI_HOME relocates everything."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BABYGPT_TUI_HOME", str(home))
    return home


def pytest_configure(config: pytest.Config) -> None:
    # One torch thread per test process: tiny models gain nothing from more, and CI has 2 cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
