"""What the TUI remembers between launches: the theme, whether the heat-map is on, and its
encoding (colours or marks). No textual.

It lives in `state.json` in the data folder (`paths.state_path()`), not in config.toml: these
are how the window was left, not settings a person wrote down (config.toml's `theme` is the one
for a first launch, and after the state file is deleted). Written through `atomic.write_atomic`
(crash-safe, a symlink followed, never replaced) whenever one of them changes; read with a size
cap. A state file that cannot be read or written costs the memory, never the launch: the app says
so in one line and goes on with the defaults.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from ..atomic import write_atomic
from ..escape import escape_controls
from ..output import why

HeatEncoding = Literal["colour", "marks"]
SCHEMA_VERSION = 1
MAX_BYTES = 64 * 1024  # a few hundred bytes are written; anything far bigger is not ours


@dataclass(frozen=True)
class UiState:
    theme: str | None = None  # None: the one config.toml names
    heatmap: bool = False
    heat_encoding: HeatEncoding = "colour"

    def to_json(self) -> str:
        data = {"schema_version": SCHEMA_VERSION, "theme": self.theme, "heatmap": self.heatmap}
        return json.dumps({**data, "heat_encoding": self.heat_encoding}, indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> UiState:
        """The state in `data` (parsed JSON); ValueError naming what is wrong. Unknown keys are
        ignored, so a newer version's file still gives back what this one knows."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"schema_version {version!r} is not a version number")
        theme, heatmap, encoding = data.get("theme"), data.get("heatmap", False), data.get("heat_encoding", "colour")
        if theme is not None and (not isinstance(theme, str) or not theme or len(theme) > 100):
            raise ValueError("theme is not a theme name")
        if not isinstance(heatmap, bool):
            raise ValueError("heatmap is not true or false")
        if encoding not in get_args(HeatEncoding):
            raise ValueError(f"heat_encoding is not one of {', '.join(get_args(HeatEncoding))}")
        return cls(theme, heatmap, encoding)


def read_state(path: Path) -> tuple[UiState | None, str]:
    """(the remembered state, "") — or (None, "") when there is none yet, or (None, a one-line
    problem naming the file) when it cannot be used."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{escape_controls(str(path))} is not a regular file; the TUI's state is not remembered"
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"bigger than {MAX_BYTES // 1024} KB")
        return UiState.from_json(json.loads(raw.decode("utf-8"))), ""
    except FileNotFoundError:
        return None, ""
    except OSError as e:
        return None, f"cannot read {escape_controls(str(path))}: {why(e)}; starting with the defaults"
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        return None, f"{escape_controls(str(path))} is damaged ({escape_controls(str(e))}); starting with the defaults"


class StateKeeper:
    """Reads the state once and writes it when it changed; each problem is said once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: UiState | None = None
        self._failed = False

    def load(self) -> tuple[UiState | None, str]:
        state, problem = read_state(self.path)
        self._written = state
        return state, problem

    def save(self, state: UiState) -> str:
        """Write `state` if it differs from the file; a one-line problem the first time a write fails."""
        if state == self._written:
            return ""
        try:
            write_atomic(self.path, state.to_json().encode("utf-8"), new_mode=0o600)
        except OSError as e:
            if self._failed:
                return ""
            self._failed = True
            return f"cannot remember the theme and heat-map in {escape_controls(str(self.path))}: {why(e)}"
        self._written, self._failed = state, False
        return ""
