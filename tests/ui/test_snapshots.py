"""Screenshots of the main screen (idle, and after a reply with a fixed seed) and of the help.

Numbers that depend on the machine (tokens/s, prefill time) come from a backend wrapper that
freezes the clock, so the pictures are identical on every run. Update them after an intended
change with `pytest tests/ui/test_snapshots.py --snapshot-update` and look at the report.
"""

from __future__ import annotations

from textual.widgets import Input

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.prompt import PromptInput
from tests.plugins.pilot import finished, ready, send


async def settle(pilot) -> None:
    await ready(pilot)
    pilot.app.query_one(PromptInput).cursor_blink = False
    for widget in pilot.app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def test_main_screen_idle_at_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=settle)


def test_main_screen_after_a_reply_with_a_fixed_seed(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.click("#seed-fixed")
        pilot.app.query_one("#seed-value", Input).value = "7"
        await send(pilot, "明月")
        await finished(pilot)
        await pilot.pause(0.3)  # let the gauge's last redraw and the layout settle

    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_help_screen(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)
