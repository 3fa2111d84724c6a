"""autosave = false: Ctrl+Q, Ctrl+N and opening another session ask before unsaved turns are
dropped (save / discard / cancel); with autosave on nobody is asked."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.screens.dialogs import ChoiceDialog
from babygpt_tui.ui.session_controller import StartOptions
from tests.plugins.pilot import finished, ready, send, wait_until

SIZE = (100, 30)


async def _one_reply(app, pilot) -> str:
    await ready(pilot)
    await send(pilot, "明")
    await finished(pilot)
    return app.sessions.session.name


async def test_ctrl_q_asks_and_cancel_keeps_the_app_running(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        await _one_reply(app, pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "1 unsaved turn" in str(app.screen.question)
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ChoiceDialog) and app.is_running
        assert len(app.chat.turns) == 1 and SessionStore().list() == []


async def test_ctrl_q_then_save_writes_the_session_and_quits(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        name = await _one_reply(app, pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.is_running)
    assert SessionStore().load(name).turns[0].prompt == "明"


async def test_ctrl_q_then_discard_quits_without_writing(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        await _one_reply(app, pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("d")
        await wait_until(pilot, lambda: not app.is_running)
    assert SessionStore().list() == []


async def test_ctrl_n_asks_before_the_chat_is_gone(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        name = await _one_reply(app, pilot)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert app.chat.turns and app.sessions.session.name == name  # nothing dropped yet
        await pilot.press("escape")  # the dialog's own cancel
        await pilot.pause()
        assert app.sessions.session.name == name and len(app.chat.turns) == 1
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("s")
        await wait_until(pilot, lambda: app.sessions.session.name != name)
        assert app.chat.turns == [] and SessionStore().load(name).turns[0].prompt == "明"


async def test_nothing_is_asked_once_saved_or_with_autosave_on(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        name = await _one_reply(app, pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: SessionStore().exists(name))
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.sessions.session.name != name)
        assert not isinstance(app.screen, ChoiceDialog)
    app = make_app(SamplingParams(max_new_tokens=4))
    async with app.run_test(size=SIZE) as pilot:
        await _one_reply(app, pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running)
