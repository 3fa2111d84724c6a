"""A session whose per-token data is malformed opens: the text is kept, the bad per-token data
is dropped, the user is told, and the heat-map and the inspector show "no data" instead of a
traceback (issue 14)."""

from __future__ import annotations

import json

from textual.widgets import Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.token_record import TokenRecord
from babygpt_tui.ui.session_controller import StartOptions
from babygpt_tui.ui.widgets.inspector import Inspector
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import Recorder, ready, wait_until


def damaged_session() -> Session:
    store = SessionStore()
    records = [TokenRecord(i, 0.5, 0.5, (i,), ("字",), (0.5,), (0.5,)) for i in range(6)]
    path = store.save(Session("hurt", [Turn("明", "月几时有把酒", "length", SamplingParams(), records=records)]))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["turns"][0]["records"]["alt_id"] = data["turns"][0]["records"]["alt_id"][:8]  # the last alternatives gone
    path.write_text(json.dumps(data), encoding="utf-8")
    return store.load("hurt")


async def test_malformed_per_token_data_is_dropped_the_text_kept_and_the_user_told(make_app) -> None:
    session = damaged_session()
    turn = session.turns[0]
    assert turn.reply == "月几时有把酒" and 0 < len(turn.records) < 6 and session.notes
    app = make_app(start=StartOptions(session=session))
    notes = Recorder(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(app.query(TurnView)) == 1)
        await wait_until(pilot, lambda: "could not be read" in notes.text())
        await pilot.press("ctrl+t")  # the heat-map colours what it has
        transcript, inspector = app.query_one(Transcript), app.query_one(Inspector)
        transcript.inspect(app.chat.turns[0], 5)  # a character whose data was dropped
        await wait_until(pilot, lambda: inspector.turn is not None)
        assert inspector.step is None
        assert "no probabilities stored" in str(app.query_one("#inspect-head", Static).render())
        transcript.inspect(app.chat.turns[0], 0)  # one whose data was kept
        await wait_until(pilot, lambda: inspector.step is not None and inspector.step.index == 0)
