"""On a remote server the explain views say they are not available there (a server sends no
attention and no sampler stages), instead of waiting for an answer that never comes; and the
TUI never sends it an explain or a watch."""

from __future__ import annotations

from typing import Any

from babygpt_tui.api import Explain, SamplingParams, Watch
from babygpt_tui.ui.explaining import REMOTE_NOTE
from babygpt_tui.ui.widgets.attention import AttentionView
from babygpt_tui.ui.widgets.pipeline import PipelineView
from tests.plugins.pilot import Recorder, Sent, finished, ready, send


async def test_the_views_say_not_available_on_a_remote_server(start_server: Any, remote_app: Any) -> None:
    server = start_server()
    app = remote_app(server.url, SamplingParams(max_new_tokens=8))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        sent, said = Sent(app), Recorder(app)
        await pilot.press("f8", "f9")
        for view in (app.query_one(AttentionView), app.query_one(PipelineView)):
            assert "not available on a remote server" in view.drawn().plain
        await send(pilot, "明月")
        await finished(pilot)
        await pilot.press("f4")  # inspect the last character of the reply
        await pilot.pause()
        shown = app.explainer.shown
        assert shown.target is not None and shown.target.recorded and shown.note == REMOTE_NOTE and not shown.waiting
        assert "not available on a remote server" in app.query_one(AttentionView).drawn().plain
        assert not [r for r in sent.requests if isinstance(r, Explain | Watch)]
        assert "Explain" not in said.text()  # no 'not available from this server' warnings either
