"""Ctrl+R keeps the reply it replaces as an alternative of the same turn; `[` / `]` browse them
(the footer says 2/3); all of them are saved with the session, exported and replayable."""

from __future__ import annotations

from textual.widgets import Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.session_export import export_markdown
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.session_controller import StartOptions
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until

SIZE = (100, 30)


def footer(app) -> str:
    return str(app.query(".turn-footer").last(Static).render())


async def regenerate(pilot, replies: int) -> None:
    app = pilot.app
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: len(app.chat.turns[-1].versions) == replies and not app.chat.generating)
    await pilot.pause()


async def test_ctrl_r_keeps_every_reply_and_brackets_browse_them(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=15))
    async with app.run_test(size=SIZE) as pilot:
        notes = Recorder(app)
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        first = app.chat.turns[0]
        await regenerate(pilot, 2)
        await regenerate(pilot, 3)
        assert len(app.chat.turns) == 1 and len(app.query(TurnView)) == 1
        third = app.chat.turns[0]
        assert third.versions[0] is first and third.alternative == 2 and third.seed != first.seed
        assert "◂ 3/3 ▸" in footer(app)
        await pilot.press("[")  # on an empty prompt box
        await pilot.press("[")
        await pilot.pause()
        assert app.chat.turns[0] is first and "◂ 1/3 ▸" in footer(app)
        view = app.query_one(TurnView)
        assert view.turn is first and first.reply in "".join(str(c.render()) for c in view.query(".turn-reply"))
        await pilot.press("[")  # the first: said so, nothing changes
        assert app.chat.turns[0] is first and "reply 1 of 3 is the first" in notes.text()
        app.query_one(Transcript).focus()
        await pilot.press("]")  # with the transcript focused
        await pilot.pause()
        assert app.chat.turns[0].alternative == 1 and "◂ 2/3 ▸" in footer(app)
        assert app.query_one("#prompt").text == ""  # the key did not go to the prompt


async def test_alternatives_are_saved_exported_and_replayable(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=12))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        await regenerate(pilot, 2)
        await pilot.press("[")
        await pilot.pause()
        shown = app.chat.turns[0]
        name = app.sessions.session.name
        app.sessions.save()
        await pilot.press("f3")  # replays the reply shown: the first one, with its seed
        await finished(pilot, 2)
        assert app.chat.turns[1].reply == shown.reply and app.chat.turns[1].seed == shown.seed
    saved = SessionStore().load(name)
    turn = saved.turns[0]
    assert [v.reply for v in turn.versions] == [v.reply for v in shown.versions] and turn.alternative == 0
    markdown = export_markdown(saved)
    assert "Reply 1 of 2 (shown)" in markdown and "Reply 2 of 2" in markdown
    for version in turn.versions:
        assert version.reply.split("\n")[0] in markdown


async def test_ctrl_r_f3_and_ctrl_o_with_no_turn_say_why(make_app) -> None:
    app = make_app(start=StartOptions())
    async with app.run_test(size=SIZE) as pilot:
        notes = Recorder(app)
        await ready(pilot)
        for key in ("ctrl+r", "f3", "ctrl+o"):
            await pilot.press(key)
        await pilot.pause()
        text = notes.text()
        assert "Nothing regenerated: no turn yet" in text
        assert "Nothing replayed: no turn yet" in text
        assert "Nothing to copy yet" in text
