"""Sessions in the app, with Pilot on the tiny model: autosave after a reply and on quit, a
failed save, Ctrl+N, replaying a turn, and settings from config.toml reaching the sidebar."""

from __future__ import annotations

from dataclasses import replace

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import ModelRef, Session, SessionError, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.session_controller import StartOptions
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import TurnView
from tests.plugins.pilot import Recorder, Sent, finished, press_now, ready, send, wait_until

SIZE = (100, 30)


def saved(name: str) -> Session:
    return SessionStore().load(name)


async def test_a_finished_reply_is_autosaved_with_every_field(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=12, temperature=1.3, top_k=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert SessionStore().list() == []  # nothing written for an empty session
        name = app.sessions.session.name
        assert app.title == name
        await pilot.click("#mode-continue")
        await send(pilot, "明月")
        await finished(pilot)
        await wait_until(pilot, lambda: SessionStore().exists(name))
        session = saved(name)
        turn, live = session.turns[0], app.chat.turns[0]
        assert turn.prompt == "明月" and turn.reply == live.reply and len(turn.reply) == 12
        assert turn.stop_reason == "length" and turn.seed == live.seed
        assert turn.params == SamplingParams(max_new_tokens=12, temperature=1.3, top_k=5)
        assert turn.context_mode == "continue" and turn.model == ModelRef("tiny", "")
        assert turn.tokens == 12 and turn.decode_tokens_per_s > 0 and turn.prefill_ms > 0
        assert turn.started_at and turn.finished_at
        assert session.params == app.params and session.context_mode == "continue"
        assert session.seed_mode == "random" and session.fixed_seed == live.seed  # the seed box shows it
        assert session.model.name == "tiny"


async def test_quitting_mid_reply_saves_the_stopped_turn(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        name = app.sessions.session.name
        await send(pilot, "春")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        await press_now(pilot, "ctrl+q")
    turn = saved(name).turns[0]
    assert turn.stop_reason == "stopped" and 10 <= len(turn.reply) < 2048 and turn.finished_at


async def test_a_save_failure_is_a_notification_and_the_app_keeps_working(make_app, monkeypatch) -> None:
    disk_full = [True]
    real_save = SessionStore.save

    def save(self, session):
        if disk_full[0]:
            raise SessionError(f"could not save session {session.name!r}: the disk is full")
        return real_save(self, session)

    monkeypatch.setattr(SessionStore, "save", save)
    app = make_app(SamplingParams(max_new_tokens=6))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        await send(pilot, "明")
        await finished(pilot)
        await wait_until(pilot, lambda: "disk is full" in notes.text())
        assert "error" in [sev for text, sev in notes.messages if "disk is full" in text]
        await send(pilot, "月")
        await finished(pilot, turns=2)
        assert [t.prompt for t in app.chat.turns] == ["明", "月"]  # nothing lost in memory
        disk_full[0] = False
        await pilot.press("ctrl+s")  # and the next save writes everything
        await wait_until(pilot, lambda: SessionStore().exists(app.sessions.session.name))
        assert [t.prompt for t in saved(app.sessions.session.name).turns] == ["明", "月"]


async def test_ctrl_n_starts_a_new_session_and_keeps_the_old_one(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = app.sessions.session.name
        await send(pilot, "明")
        await finished(pilot)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.sessions.session.name != first and not app.query(TurnView))
        assert app.chat.turns == [] and app.title == app.sessions.session.name
        assert app.query("#transcript-hint")
        assert len(saved(first).turns) == 1
        await send(pilot, "月")
        await finished(pilot)
        assert {i.name for i in SessionStore().list()} == {first, app.sessions.session.name}


async def test_ctrl_n_while_generating_stops_and_saves_the_reply_in_the_old_session(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = app.sessions.session.name
        await send(pilot, "春")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        await press_now(pilot, "ctrl+n")
        await wait_until(pilot, lambda: app.sessions.session.name != first, timeout=30)
        turn = saved(first).turns[0]
        assert turn.stop_reason == "stopped" and len(turn.reply) >= 10 and turn.decode_tokens_per_s > 0


async def test_replay_reproduces_a_sampled_turn_with_its_seed_and_settings(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=30, temperature=1.5, top_p=0.9))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sent = Sent(app)
        await send(pilot, "明")
        await finished(pilot)
        original = app.chat.turns[0]
        app.query_one("#knob-temperature", Slider).focus()
        await pilot.press("home")  # the knobs have changed since: the replay must not use them
        assert app.params.temperature == 0.0
        await pilot.press("f3")
        await finished(pilot, turns=2)
        replay = app.chat.turns[1]
        assert replay.reply == original.reply and replay.seed == original.seed
        assert replay.params == original.params and sent.generates()[1].request.seed == original.seed
        assert len(app.query(TurnView)) == 2


async def test_replay_of_an_earlier_continue_turn_uses_its_context(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=8, temperature=1.2))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await finished(pilot)
        await pilot.click("#mode-continue")
        await send(pilot, "月")
        await finished(pilot, turns=2)
        await send(pilot, "春")
        await finished(pilot, turns=3)
        app.action_pick_replay()
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TurnPicker" and app.screen.focused)
        await pilot.press("up", "enter")  # the second turn
        await finished(pilot, turns=4)
        assert backend.requests[3].prompt == backend.requests[1].prompt
        assert app.chat.turns[3].reply == app.chat.turns[1].reply


async def test_replay_with_another_model_warns_that_the_text_may_differ(make_app) -> None:
    big = ModelRef("big.safetensors", "ab" * 32)
    old = Turn("明", "月", "length", SamplingParams(max_new_tokens=4), seed=3, model=big)
    SessionStore().save(Session("old", turns=[old]))
    start = StartOptions(session=SessionStore().load("old"))
    app = make_app(start=start)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        await pilot.press("f3")
        await finished(pilot, turns=2)
        assert "may differ" in notes.text() and "big.safetensors" in notes.text()


async def test_config_defaults_reach_the_sliders_the_seed_and_the_engine(make_app, backend) -> None:
    params = SamplingParams(temperature=0.35, top_k=7, max_new_tokens=9)
    app = make_app(params, start=StartOptions(seed=4242, context_keep=5, theme="nord"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.query_one("#knob-temperature", Slider).value == 0.35
        assert app.query_one("#knob-top_k", Slider).value == 7
        assert app.query_one("#knobs").fixed_seed == 4242
        assert app.theme == "nord"
        await send(pilot, "明")
        await finished(pilot)
        assert backend.requests[0].seed == 4242 and backend.requests[0].context_keep == 5
        assert backend.requests[0].params == params


async def test_an_unknown_theme_falls_back_with_a_notification(make_app) -> None:
    app = make_app(start=StartOptions(theme="no-such-theme"))
    notes: list[str] = []
    original = app.notify
    app.notify = lambda message, *a, **k: (notes.append(str(message)), original(message, *a, **k))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "textual-dark"
        assert any("no-such-theme" in n for n in notes)


async def test_autosave_off_writes_only_on_ctrl_s(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=4), start=StartOptions(autosave=False))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await finished(pilot)
        await pilot.pause(0.2)
        assert SessionStore().list() == []
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: SessionStore().exists(app.sessions.session.name))


async def test_save_as_defaults_writes_theme_and_knobs_to_config_toml(make_app) -> None:
    from babygpt_tui import paths
    from babygpt_tui.config import resolve_settings

    app = make_app(SamplingParams(temperature=0.5, top_k=3))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.theme = "gruvbox"
        await pilot.click("#seed-fixed")
        app.query_one("#seed-value").value = "99"
        notes = Recorder(app)
        app.query_one("#save-defaults").scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click("#save-defaults")
        await wait_until(pilot, lambda: str(paths.config_path()) in notes.text())
    settings, _ = resolve_settings()
    assert settings.theme == "gruvbox" and settings.seed == 99
    assert settings.sampling.temperature == 0.5 and settings.sampling.top_k == 3


async def test_the_open_session_can_be_renamed_before_and_after_its_first_save(make_app) -> None:
    from textual.widgets import Input

    from babygpt_tui import paths
    from babygpt_tui.ui.screens.dialogs import InputDialog

    async def rename(pilot, new: str) -> None:
        pilot.app.action_rename_session()
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, InputDialog) and pilot.app.screen.query(Input))
        pilot.app.screen.query_one(Input).value = new
        await pilot.press("enter")
        await wait_until(pilot, lambda: pilot.app.title == new)

    app = make_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await rename(pilot, "moon")  # not saved yet: only the name changes
        assert SessionStore().list() == []
        await send(pilot, "明")
        await finished(pilot)
        await wait_until(pilot, lambda: SessionStore().exists("moon"))
        await rename(pilot, "full moon")  # saved: the file follows
        assert SessionStore().exists("full moon") and not SessionStore().exists("moon")
        notes = Recorder(app)
        app.action_export_md()
        path = paths.data_dir() / "exports" / "full-moon.md"
        await wait_until(pilot, lambda: str(path) in notes.text())
        assert "# full moon" in path.read_text(encoding="utf-8")


async def test_autosave_writes_in_its_own_thread_and_the_ui_keeps_going(make_app, monkeypatch) -> None:
    import threading

    release, writing = threading.Event(), threading.Event()
    real_save = SessionStore.save

    def slow_save(self, session):
        writing.set()
        assert threading.current_thread() is not threading.main_thread()
        release.wait(30)  # a huge session, or a slow disk
        return real_save(self, session)

    monkeypatch.setattr(SessionStore, "save", slow_save)
    app = make_app(SamplingParams(max_new_tokens=6))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await finished(pilot)
        await wait_until(pilot, writing.is_set)
        await pilot.press("月")  # the UI answers while the file is being written
        assert app.query_one("#prompt").text == "月"
        assert not SessionStore().exists(app.sessions.session.name)
        release.set()
        await wait_until(pilot, lambda: SessionStore().exists(app.sessions.session.name))
        assert saved(app.sessions.session.name).turns[0].prompt == "明"


async def test_replay_follows_knobs_moved_mid_reply_and_forces_a_branch_token_again(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=400, temperature=1.4), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sent = Sent(app)
        await send(pilot, "明")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        slider = app.query_one("#knob-temperature", Slider)
        slider.focus()
        await wait_until(pilot, lambda: slider.has_focus)
        await press_now(pilot, "home")  # greedy from here on, mid-reply
        await finished(pilot)
        original = app.chat.turns[0]
        assert [p.temperature for _, p in original.params_changes] == [1.4, 0.0]
        await pilot.press("end")  # the knobs move again; the replay must not care
        await pilot.press("f3")
        await finished(pilot, turns=2)
        replay = app.chat.turns[1]
        assert sent.generates()[-1].schedule == tuple(original.params_changes)
        assert replay.params_changes == original.params_changes  # the engine followed the stored knobs
        assert replay.reply == original.reply

        # A stored branch (its first token forced) replays with that token forced again.
        forced = replace(original.records[0], forced=True)
        branch = Turn("明", original.reply, "length", SamplingParams(max_new_tokens=5), seed=1, model=app.chat.model)
        branch.records = [forced]
        app.chat.turns.append(branch)
        await pilot.press("f3")
        await finished(pilot, turns=4)
        assert sent.generates()[-1].request.forced_prefix == (forced.id,)
        assert app.chat.turns[3].reply[0] == branch.reply[0] and app.chat.turns[3].records[0].forced
