"""The TUI side of two windows on one session (Pilot on the tiny model): the user is told when
their chat was saved under a new name, or when the session was deleted in another terminal."""

from __future__ import annotations

from babygpt_tui import paths
from babygpt_tui.api import SamplingParams
from babygpt_tui.cli import main
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.session_controller import StartOptions
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until

SIZE = (100, 30)


def open_poems(make_app):
    SessionStore().save(Session(name="poems", turns=[Turn(prompt="first", reply="r", stop_reason="length")]))
    return make_app(SamplingParams(max_new_tokens=4), start=StartOptions(session=SessionStore().load("poems")))


def prompts(name: str) -> list[str]:
    return [t.prompt for t in SessionStore().load(name).turns]


async def test_a_session_changed_in_another_window_is_saved_under_a_new_name_and_the_user_told(make_app) -> None:
    app = open_poems(make_app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        other = SessionStore()  # the second terminal
        theirs = other.load("poems")
        theirs.turns.append(Turn(prompt="theirs", reply="r", stop_reason="length"))
        other.save(theirs)
        await send(pilot, "明")
        await finished(pilot, turns=2)
        await wait_until(pilot, lambda: "to keep both" in notes.text())
        assert app.title == app.sessions.session.name == "poems 2"
        assert prompts("poems") == ["first", "theirs"] and prompts("poems 2") == ["first", "明"]
        await send(pilot, "月")  # later replies go on to the new name, without another fork
        await finished(pilot, turns=3)
        await wait_until(pilot, lambda: prompts("poems 2") == ["first", "明", "月"])
        assert sorted(i.name for i in SessionStore().list()) == ["poems", "poems 2"]


async def test_a_session_deleted_in_another_terminal_is_not_resurrected_silently(make_app, capsys) -> None:
    app = open_poems(make_app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        assert main(["sessions", "delete", "poems", "--yes"]) == 0
        await send(pilot, "明")
        await finished(pilot, turns=2)
        await wait_until(pilot, lambda: "deleted or renamed outside this window" in notes.text())
        assert not (paths.sessions_dir() / "poems.json").exists()
        await pilot.press("ctrl+s")  # the user keeps it
        await wait_until(pilot, lambda: (paths.sessions_dir() / "poems.json").exists())
        assert prompts("poems") == ["first", "明"]
