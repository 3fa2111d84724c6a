"""Screenshots of the heat-map (a reply coloured by probability, legend in the sidebar) and of
the inspector open on one character at 80×24. Fixed seed and a frozen clock (see ui_helpers), so
the pictures are identical on every run; update after an intended change with
`pytest tests/ui/test_snapshots_inspector.py --snapshot-update` and look at the report."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.inspector import Inspector
from babygpt_tui.ui.widgets.transcript import Transcript
from tests.plugins.pilot import seeded_reply, wait_until


async def reply_with_heatmap(pilot) -> None:
    app = pilot.app
    await seeded_reply(pilot)
    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: app.query_one("#heat-legend").display)
    await pilot.pause(0.3)  # the gauge's last redraw and the layout settle


def test_a_reply_with_the_heatmap_on(snap_compare, make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(100, 30), run_before=reply_with_heatmap)


def test_the_inspector_open_at_80x24(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        await reply_with_heatmap(pilot)
        pilot.app.query_one(Transcript).focus()
        await pilot.press("left", "home", "right", "right", "right")
        inspector = pilot.app.query_one(Inspector)
        await wait_until(pilot, lambda: inspector.step is not None and inspector.step.index == 3)
        await pilot.pause(0.3)

    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
