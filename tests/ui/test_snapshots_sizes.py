"""The main screen after a reply at the three sizes people use (120×36, 80×24, 60×20): beside
the transcript at 120, floating (closed) below 90 columns with a compact footer and a shorter
header; and the floating sidebar open at 60×20. Numbers are frozen (see test_snapshots.py)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from babygpt_tui.api import SamplingParams
from tests.plugins.pilot import finished, send
from tests.ui.test_snapshots import settle


async def a_reply(pilot) -> None:
    await settle(pilot)
    pilot.app.query_one("#seed-fixed").value = True
    pilot.app.query_one("#seed-value", Input).value = "7"
    await send(pilot, "明月")
    await finished(pilot)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(120, 36), (80, 24), (60, 20)], ids=["120x36", "80x24", "60x20"])
def test_main_screen_after_a_reply(snap_compare, make_app, size) -> None:
    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=size, run_before=a_reply)


def test_the_floating_sidebar_open_at_60x20(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        await a_reply(pilot)
        await pilot.press("ctrl+b")
        await pilot.pause()

    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)
