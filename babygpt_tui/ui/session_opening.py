"""What the sidebar shows when a session opens: the session's own settings, except the knobs
given on the command line for that very session (`--session NAME` / `--continue` with
`--top-k 8`: the flag wins, once). A session opened later with F2 never gets them — they were
the start-up session's (they would otherwise leak into it and be saved there). Headless: the
controller applies the result to the sidebar; tests drive it without a screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..api import ContextMode, SamplingParams
from ..session import Session

NOT_KNOBS = ("seed", "stop")  # sampling flags that are not SamplingParams fields


@dataclass(frozen=True)
class SidebarSettings:
    params: SamplingParams
    seed_mode: str  # "random" or "fixed"
    seed: int
    context_mode: ContextMode


def opening_settings(session: Session, flags: Mapping[str, Any]) -> SidebarSettings:
    """The sidebar for `session`, with `flags` (SamplingParams field or "seed" -> value) on top."""
    knobs = {k: v for k, v in flags.items() if k not in NOT_KNOBS}
    seed = flags.get("seed")
    return SidebarSettings(
        replace(session.params, **knobs),
        session.seed_mode if seed is None else "fixed",
        session.fixed_seed if seed is None else int(seed),
        session.context_mode,
    )


class StartupFlags:
    """The command-line knobs, handed out once: to the session opened at start-up, or to nobody
    when the app starts a new session (whose sidebar shows them already)."""

    def __init__(self, flags: Mapping[str, Any]) -> None:
        self._flags: dict[str, Any] = dict(flags)

    def take(self) -> dict[str, Any]:
        flags, self._flags = self._flags, {}
        return flags

    def drop(self) -> None:
        self._flags = {}
