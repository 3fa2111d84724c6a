"""Screenshots of the attention view (F8) and the sampler pipeline view (F9) open on the last
character of a reply, at 120×36 and at 80×24 (where the attention view scrolls). Fixed seed and a
frozen clock, so the pictures are identical on every run; update after an intended change with
`pytest tests/ui/test_snapshots_explain.py --snapshot-update` and look at the report."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.attention import AttentionView
from babygpt_tui.ui.widgets.pipeline import PipelineView
from tests.plugins.pilot import seeded_reply, wait_until


async def both_views_open(pilot) -> None:
    app = pilot.app
    await seeded_reply(pilot)
    await pilot.press("f8", "f9")
    for view in (app.query_one(AttentionView), app.query_one(PipelineView)):
        await wait_until(pilot, lambda v=view: v.state.explanation is not None and not v.state.waiting)
    await pilot.press("shift+right", "shift+down")  # layer 2, head 1
    await pilot.pause(0.3)  # the layout settles


def test_attention_and_pipeline_at_120x36(snap_compare, make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(120, 36), run_before=both_views_open)


def test_attention_and_pipeline_at_80x24(snap_compare, make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=60), freeze=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=both_views_open)
