"""Where config and sessions live, and how BABYGPT_TUI_HOME relocates both."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from babygpt_tui import paths


def test_home_env_relocates_config_and_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABYGPT_TUI_HOME", str(tmp_path))
    assert paths.config_path() == tmp_path / "config" / "config.toml"
    assert paths.sessions_dir() == tmp_path / "sessions"


def test_without_home_env_platform_dirs_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BABYGPT_TUI_HOME")
    assert paths.home_override() is None
    assert paths.config_path() == platformdirs.user_config_path("babygpt-tui", appauthor=False) / "config.toml"
    assert paths.sessions_dir() == platformdirs.user_data_path("babygpt-tui", appauthor=False) / "sessions"


def test_empty_home_env_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABYGPT_TUI_HOME", "  ")
    assert paths.home_override() is None
    assert paths.config_dir() == platformdirs.user_config_path("babygpt-tui", appauthor=False)


def test_home_env_expands_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("BABYGPT_TUI_HOME", "~/portable")
    assert paths.sessions_dir() == tmp_path / "portable" / "sessions"


def test_asking_for_paths_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABYGPT_TUI_HOME", str(tmp_path / "home"))
    paths.config_path(), paths.sessions_dir(), paths.data_dir(), paths.config_dir()
    assert not (tmp_path / "home").exists()


def test_tests_never_see_the_real_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The autouse fixture in conftest.py must be in force for every test.
    assert paths.home_override() is not None
    assert str(paths.home_override()).startswith(str(tmp_path_factory.getbasetemp()))
