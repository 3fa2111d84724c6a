"""The Markdown export says what a reader needs to redo each reply: knobs at their off value say
"off", knob moves during a reply are listed, continue-mode turns are marked, every reply shown."""

from __future__ import annotations

from dataclasses import replace

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_export import export_markdown


def test_off_knobs_mid_reply_changes_and_continue_mode_are_in_the_markdown() -> None:
    start = SamplingParams(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0)
    later = replace(start, temperature=0.3, top_k=5)
    turn = Turn(
        "明月",
        reply="几时有",
        params=start,
        seed=3,
        context_mode="continue",
        params_changes=[(0, start), (12, later), (20, replace(later, top_k=0))],
    )
    md = export_markdown(Session("s", turns=[Turn("春", reply="风"), turn]))
    assert "## Turn 2 (continue mode)" in md and "## Turn 1\n" in md
    assert "| 0.8 | off | off | off | off | 200 | 3 |" in md
    assert "- from token 13: temperature 0.8 → 0.3, top-k off → 5" in md
    assert "- from token 21: top-k 5 → off" in md
    assert md.count("Knobs moved during the reply") == 1  # turn 1 had none
