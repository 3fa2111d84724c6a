"""Where babygpt-tui keeps what it writes: one module, so nothing else hard-codes a location.

By default the platform's conventions (platformdirs): the user config dir holds `config.toml`,
the user data dir holds `sessions/`, `exports/` (sessions exported from the TUI) and `state.json`
(what the TUI remembers between launches: theme, heat-map — not settings, which are
config.toml's). The environment variable BABYGPT_TUI_HOME relocates them all under one folder
(`$BABYGPT_TUI_HOME/config/config.toml`, `$BABYGPT_TUI_HOME/sessions/`, …), so tests never
touch the real home and a portable install can live on a USB stick.

Nothing here creates directories: reading a path must not leave traces; writers create them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "babygpt-tui"
HOME_ENV = "BABYGPT_TUI_HOME"
CONFIG_FILE = "config.toml"
SESSIONS_DIR = "sessions"
EXPORTS_DIR = "exports"
STATE_FILE = "state.json"


def home_override() -> Path | None:
    """The folder named by BABYGPT_TUI_HOME, or None when it is unset or empty."""
    value = os.environ.get(HOME_ENV, "").strip()
    # `~` is expanded because a value written in a config or a .desktop file is not shell-expanded.
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = home_override()
    if home is not None:
        return home / "config"
    # appauthor=False: on Windows, no extra "<author>" level above the app folder.
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    home = home_override()
    if home is not None:
        return home
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def config_path() -> Path:
    """The user's config.toml (it may not exist: built-in defaults apply then)."""
    return config_dir() / CONFIG_FILE


def sessions_dir() -> Path:
    """The folder of saved sessions, one JSON file each (it may not exist yet)."""
    return data_dir() / SESSIONS_DIR


def exports_dir() -> Path:
    """Where the TUI writes exported sessions (Markdown, JSON), next to sessions/."""
    return data_dir() / EXPORTS_DIR


def state_path() -> Path:
    """The TUI's remembered state (theme, heat-map on/off and encoding); it may not exist."""
    return data_dir() / STATE_FILE
