"""The sessions screen (F2) with Pilot: the list, search, open (transcript and sidebar come
back), rename, delete with a confirmation, export, and unreadable files."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from babygpt_tui import paths
from babygpt_tui.api import SamplingParams
from babygpt_tui.session import ModelRef, Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.screens.dialogs import ChoiceDialog, InputDialog
from babygpt_tui.ui.screens.sessions import SessionsScreen
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import TurnView
from tests.plugins.pilot import Recorder, ready, wait_until

SIZE = (110, 32)


async def dialog_open(pilot) -> None:
    """Wait until a choice dialog (delete? export as?) is up and ready for a key."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog) and app.screen.focused is not None)


def make_sessions() -> SessionStore:
    store = SessionStore()
    poems = Session(
        "poems",
        turns=[
            Turn(
                "明月",
                "几时有",
                "length",
                SamplingParams(temperature=0.5),
                seed=11,
                model=ModelRef("tiny"),
                tokens=3,
                decode_tokens_per_s=321.0,
            ),
            Turn("春", "风", "stopped", SamplingParams(temperature=0.5), seed=12, model=ModelRef("tiny"), tokens=1),
        ],
        params=SamplingParams(temperature=1.25, top_k=9, max_new_tokens=77),
        seed_mode="fixed",
        fixed_seed=31337,
        context_mode="continue",
        model=ModelRef("tiny"),
    )
    store.save(poems)
    store.save(Session("drafts", turns=[Turn("夜", "雨", "length", seed=1)]))
    (store.directory / "broken.json").write_text("{ not json", encoding="utf-8")
    return store


async def open_screen(pilot) -> SessionsScreen:
    await pilot.press("f2")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen) and pilot.app.screen.query(DataTable))
    await pilot.pause()
    return pilot.app.screen


def rows(screen: SessionsScreen) -> list[str]:
    return [str(i.name) for i in screen.shown]


async def highlight(pilot, screen: SessionsScreen, name: str) -> None:
    screen.query_one(DataTable).move_cursor(row=rows(screen).index(name), animate=False)
    await pilot.pause()


async def test_the_list_shows_sessions_and_unreadable_files_and_search_filters(make_app) -> None:
    make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_screen(pilot)
        assert set(rows(screen)) == {"poems", "drafts", "broken.json"}
        table = screen.query_one(DataTable)
        cells = {str(table.get_row_at(i)[1]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert cells["poems"][2] == "明月" and cells["poems"][3] == "tiny" and cells["poems"][4] == "2"  # preview
        assert cells["broken.json"][2].startswith("unreadable: not valid JSON")
        await pilot.press("p", "O")  # the search box has the focus; case is ignored
        await wait_until(pilot, lambda: rows(screen) == ["poems"])
        for _ in range(2):
            await pilot.press("backspace")
        await wait_until(pilot, lambda: len(rows(screen)) == 3)
        await pilot.press("明")  # the first prompt is searched too
        await wait_until(pilot, lambda: rows(screen) == ["poems"])
        await pilot.press("backspace")
        await wait_until(pilot, lambda: len(rows(screen)) == 3)
        await highlight(pilot, screen, "broken.json")
        notes = Recorder(app)
        await pilot.press("enter")  # cannot be opened, says why
        await wait_until(pilot, lambda: "not valid JSON" in notes.text())
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SessionsScreen))


async def test_open_restores_the_transcript_and_the_sidebar_settings(make_app) -> None:
    make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "poems")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.title == "poems" and len(app.query(TurnView)) == 2)
        await pilot.pause()
        assert [t.reply for t in app.chat.turns] == ["几时有", "风"]
        footers = [str(s.render()) for s in app.query(".turn-footer").results(Static)]
        assert "321 tok/s" in footers[0] and "seed 11" in footers[0] and "stopped" in footers[1]
        assert app.params == SamplingParams(temperature=1.25, top_k=9, max_new_tokens=77)
        assert app.query_one("#knob-temperature", Slider).value == 1.25
        knobs = app.query_one("#knobs")
        assert knobs.fixed_seed == 31337 and knobs.context_mode == "continue"


async def test_rename_asks_for_the_name_and_renames_file_and_title(make_app) -> None:
    store = make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "poems")
        await pilot.press("enter")  # open it first, so the title must follow the rename
        await wait_until(pilot, lambda: app.title == "poems")
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "poems")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, InputDialog) and app.screen.query(Input))
        dialog_input = app.screen.query_one(Input)
        dialog_input.value = "song ci"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "song ci" in rows(screen))
        assert app.title == "song ci" and app.sessions.session.name == "song ci"
        assert store.exists("song ci") and not store.exists("poems")
        assert not (store.directory / "poems.json").exists() and (store.directory / "song-ci.json").exists()


async def test_delete_asks_first_and_then_deletes(make_app) -> None:
    store = make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "drafts")
        await pilot.press("ctrl+d")
        await dialog_open(pilot)
        await pilot.press("n")  # keep it
        await wait_until(pilot, lambda: app.screen is screen)
        assert store.exists("drafts")
        await pilot.press("ctrl+d")
        await dialog_open(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: "drafts" not in rows(screen))
        assert not store.exists("drafts")
        await highlight(pilot, screen, "broken.json")  # an unreadable file can be deleted too
        await pilot.press("ctrl+d")
        await dialog_open(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: rows(screen) == ["poems"])
        assert not (store.directory / "broken.json").exists()


async def test_export_writes_markdown_and_json_and_names_the_file(make_app) -> None:
    make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "poems")
        for key, suffix in (("m", "md"), ("j", "json")):
            await pilot.press("ctrl+e")
            await dialog_open(pilot)
            await pilot.press(key)
            path = paths.data_dir() / "exports" / f"poems.{suffix}"
            await wait_until(pilot, lambda path=path: str(path) in notes.text())
            assert path.exists()
        text = (paths.data_dir() / "exports" / "poems.md").read_text(encoding="utf-8")
        assert "# poems" in text and "几时有" in text and "| 0.5 |" in text
        assert SessionStore().load_path(Path(paths.data_dir() / "exports" / "poems.json")).turns[0].seed == 11


async def test_deleting_the_open_session_starts_a_new_one(make_app) -> None:
    store = make_sessions()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "drafts")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.title == "drafts" and len(app.query(TurnView)) == 1)
        screen = await open_screen(pilot)
        await highlight(pilot, screen, "drafts")
        await pilot.press("ctrl+d")
        await dialog_open(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.title != "drafts" and not app.query(TurnView))
        assert not store.exists("drafts") and app.chat.turns == []
