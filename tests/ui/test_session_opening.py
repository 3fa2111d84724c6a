"""The sidebar a session opens with, decided without a screen: its own settings, plus the
command-line knobs only for the session they were given with, once."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import Session
from babygpt_tui.ui.session_opening import SidebarSettings, StartupFlags, opening_settings

POEMS = Session("poems", params=SamplingParams(top_k=9, max_new_tokens=77), seed_mode="random", fixed_seed=3)


def test_a_session_opens_with_its_own_settings_and_flags_on_top() -> None:
    assert opening_settings(POEMS, {}) == SidebarSettings(POEMS.params, "random", 3, "fresh")
    flagged = opening_settings(POEMS, {"max_new_tokens": 2000, "seed": 5, "stop": ("\n\n",)})
    assert flagged.params == SamplingParams(top_k=9, max_new_tokens=2000)
    assert (flagged.seed_mode, flagged.seed) == ("fixed", 5)


def test_startup_flags_are_handed_out_once_or_dropped() -> None:
    flags = StartupFlags({"max_new_tokens": 2000})
    assert flags.take() == {"max_new_tokens": 2000} and flags.take() == {}
    flags = StartupFlags({"max_new_tokens": 2000})
    flags.drop()  # a new session started: an F2-opened one must not get them
    assert opening_settings(POEMS, flags.take()).params.max_new_tokens == 77
