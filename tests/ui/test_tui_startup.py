"""`babygpt-tui` start-up: config.toml and flags reach the app, --session opens or creates a
session, and a bad config or session file shows an error screen, then exits 2 with the message."""

from __future__ import annotations

import argparse

from textual.widgets import Static

from babygpt_tui import cli, paths
from babygpt_tui.commands import tui
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.app import BabyGPTApp
from babygpt_tui.ui.screens.error import ErrorScreen, StartupErrorApp
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import TurnView
from tests.plugins.pilot import InProcessEngine, finished, ready, send, wait_until

SIZE = (100, 30)


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def write_config(text: str) -> None:
    paths.config_path().parent.mkdir(parents=True, exist_ok=True)
    paths.config_path().write_text(text, encoding="utf-8")


def with_backend(app: BabyGPTApp, backend) -> BabyGPTApp:
    """The app `build_app` made, with the engine on the tiny model in this process."""
    app.engine.spawn = lambda: InProcessEngine(lambda _: backend)
    return app


async def test_config_toml_and_flags_reach_the_sidebar(backend) -> None:
    write_config('theme = "nord"\ncontext_keep = 4\n[sampling]\ntemperature = 0.3\ntop_k = 6\nseed = 5\n')
    app, error = tui.build_app(parse("--top-k", "8", "--max-new-tokens", "7"))
    assert error is None and isinstance(app, BabyGPTApp)
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.query_one("#knob-temperature", Slider).value == 0.3
        assert app.query_one("#knob-top_k", Slider).value == 8  # the flag wins
        assert app.query_one("#knobs").fixed_seed == 5 and app.theme == "nord"
        await send(pilot, "明")
        await finished(pilot)
        request = backend.requests[0]
        assert request.seed == 5 and request.context_keep == 4 and request.params.max_new_tokens == 7


async def test_a_bad_config_shows_an_error_screen_then_exits_2(monkeypatch, capsys) -> None:
    write_config("[sampling]\ntemperatur = 0.3\n")
    app, error = tui.build_app(parse())
    assert isinstance(app, StartupErrorApp) and "temperatur" in str(error)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause()
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "unknown key 'sampling.temperatur'" in text and "did you mean" in text
        assert str(paths.config_path()) in text and "config show" in text
        await pilot.press("q")
    monkeypatch.setattr(StartupErrorApp, "run", lambda self: None)  # no terminal in tests
    assert cli.main([]) == 2
    assert "temperatur" in capsys.readouterr().err


async def test_a_bad_flag_value_is_reported_the_same_way() -> None:
    app, error = tui.build_app(parse("--temperature", "-1"))
    assert isinstance(app, StartupErrorApp) and "--temperature" in str(error)


async def test_session_flag_opens_an_existing_session(backend) -> None:
    SessionStore().save(Session("poems", turns=[Turn("明", "月", "length", seed=3)], context_mode="continue"))
    app, error = tui.build_app(parse("--session", "poems"))
    assert error is None
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(app.query(TurnView)) == 1)
        assert app.title == "poems" and app.query_one("#knobs").context_mode == "continue"


async def test_sampling_flags_beat_the_settings_stored_in_the_session(backend) -> None:
    from babygpt_tui.api import SamplingParams

    stored = Session(
        "poems",
        turns=[Turn("明", "月", "length")],
        params=SamplingParams(temperature=1.5, top_k=4),
        seed_mode="fixed",
        fixed_seed=8,
    )
    SessionStore().save(stored)
    app, _ = tui.build_app(parse("--session", "poems", "--temperature", "0", "--seed", "77"))
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(app.query(TurnView)) == 1)
        await pilot.pause()
        assert app.params.temperature == 0.0 and app.params.top_k == 4
        assert app.query_one("#knobs").fixed_seed == 77


async def test_session_flag_with_a_new_name_is_written_after_the_first_reply(backend) -> None:
    app, error = tui.build_app(parse("--session", "fresh ideas", "--max-new-tokens", "5"))
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.title == "fresh ideas" and not SessionStore().exists("fresh ideas")
        await send(pilot, "明")
        await finished(pilot)
        await wait_until(pilot, lambda: SessionStore().exists("fresh ideas"))


async def test_quitting_an_empty_new_session_writes_nothing(backend) -> None:
    app, _ = tui.build_app(parse())
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+q")
    assert SessionStore().list() == []


def test_a_corrupt_session_file_named_by_session_is_an_error_and_left_alone() -> None:
    store = SessionStore()
    store.directory.mkdir(parents=True, exist_ok=True)
    (store.directory / "poems.json").write_text('{"schema_version": 99, "name": "poems"}', encoding="utf-8")
    app, error = tui.build_app(parse("--session", "poems.json"))
    assert isinstance(app, StartupErrorApp) and "newer babygpt-tui" in str(error)
    assert (store.directory / "poems.json").read_text(encoding="utf-8").startswith('{"schema_version": 99')


async def test_a_corrupt_session_file_shows_session_advice_not_config_advice() -> None:
    store = SessionStore()
    store.directory.mkdir(parents=True, exist_ok=True)
    (store.directory / "poems.json").write_text("{not json", encoding="utf-8")
    app, error = tui.build_app(parse("--session", "poems"))
    assert isinstance(app, StartupErrorApp) and error is not None
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause()
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "poems.json" in text and "sessions list" in text and "--session ANOTHER-NAME" in text
        assert "config.example.toml" not in text and "config show" not in text


async def test_control_characters_in_a_startup_error_are_shown_escaped() -> None:
    app = StartupErrorApp("bad name 'x\x1b[2J\x1b]0;t\x07'")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause()
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "\\x1b[2J\\x1b]0;t\\x07" in text and "\x1b" not in text


def test_help_says_what_the_engine_does_with_threads_by_default() -> None:
    """generate, score and train take one thread per core; the TUI's engine and serve one fewer,
    leaving a core to the UI or the event loop (engine/device.py, set_threads)."""
    help_text = " ".join(cli.build_parser().format_help().split())
    assert (
        "--threads THREADS torch CPU threads (default: one per core for generate, score and train;"
        " one fewer for the TUI's engine and serve)"
    ) in help_text
