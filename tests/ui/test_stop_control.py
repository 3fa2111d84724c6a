"""Stop strings in the TUI: the sidebar's "one poem per reply" toggle and the --stop list reach
the engine, a reply ends before the stop string (not shown), and its footer says `stop`."""

from __future__ import annotations

from textual.widgets import Checkbox, Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import Session, dumps_session, loads_session
from babygpt_tui.ui.session_controller import StartOptions
from babygpt_tui.ui.widgets.stop_control import POEM_END, StopControl
from tests.plugins.pilot import finished, ready, send

SIZE = (100, 36)
FIXED = StartOptions(seed=11)


async def test_one_poem_per_reply_is_a_sidebar_toggle_sent_with_every_reply(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=30), start=StartOptions(seed=11, one_poem=True, stop=("END",)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        control = app.query_one(StopControl)
        assert app.query_one("#stop-poem", Checkbox).value
        assert 'stop at: "END"' in str(app.query_one("#stop-list", Static).render())
        await send(pilot, "明月")
        await finished(pilot)
        assert backend.requests[-1].stop == (POEM_END, "END")
        assert app.chat.turns[0].stop == (POEM_END, "END")
        app.action_toggle_one_poem()  # the palette's toggle, as a click on the box
        assert not control.one_poem
        await send(pilot, "明月")
        await finished(pilot, 2)
        assert backend.requests[-1].stop == ("END",)


async def test_a_reply_ends_before_the_stop_string_and_says_stop(make_app, backend) -> None:
    params = SamplingParams(max_new_tokens=40)
    app = make_app(params, start=FIXED)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        free = app.chat.turns[0].reply  # the same seed without a stop string
    cut = free[5:]
    stop = cut[len(cut) // 2]  # a character the model writes after a few others
    at = free.index(stop)
    app = make_app(params, start=StartOptions(seed=11, stop=(stop,)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.reply == free[:at] and stop not in turn.reply
        assert turn.stop_reason == "stop"
        footer = str(app.query(".turn-footer").last(Static).render())
        assert " · stop · " in footer


def test_a_turns_stop_strings_are_saved_with_the_session() -> None:
    from babygpt_tui.session import Turn

    session = Session("s", turns=[Turn("明月", stop=(POEM_END, "END"))])
    assert loads_session(dumps_session(session)).turns[0].stop == (POEM_END, "END")


def test_one_poem_is_on_for_the_bundled_model_unless_the_config_says_otherwise(tmp_path) -> None:
    from babygpt_tui.config import ConfigError, resolve_settings

    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    settings, _ = resolve_settings(config_path=config)
    assert StartOptions.from_settings(settings).one_poem  # the bundled Song-ci model
    config.write_text('model = "other.pth"\n', encoding="utf-8")
    settings, _ = resolve_settings(config_path=config)
    assert not StartOptions.from_settings(settings).one_poem
    config.write_text('model = "other.pth"\none_poem = true\n[sampling]\nstop = ["END"]\n', encoding="utf-8")
    settings, _ = resolve_settings(config_path=config)
    options = StartOptions.from_settings(settings)
    assert options.one_poem and options.stop == ("END",)
    config.write_text('one_poem = "yes"\n', encoding="utf-8")
    try:
        resolve_settings(config_path=config)
    except ConfigError as e:
        assert 'one_poem = "yes"' in str(e) and '"auto", true or false' in str(e)
    else:
        raise AssertionError("a bad one_poem was accepted")


def test_the_tui_takes_stop_flags(tmp_path) -> None:
    from babygpt_tui.cli import build_parser
    from babygpt_tui.config import resolve_settings

    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    args = build_parser().parse_args(["--stop", r"\n\n", "--stop", "END", "--config", str(config)])
    settings, sources = resolve_settings(args)
    assert settings.stop == ("\n\n", "END") and sources["sampling.stop"] == "command line"
    args = build_parser().parse_args(["--no-one-poem", "--config", str(config)])
    assert resolve_settings(args)[0].one_poem is False
    assert not StartOptions.from_settings(resolve_settings(args)[0]).one_poem
