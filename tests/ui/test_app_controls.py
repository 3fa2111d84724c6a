"""The app driven with Pilot on a tiny in-memory model: the knobs, the prompt, seeds, context
mode, copy, help, the command palette, themes and small terminals."""

from __future__ import annotations

from textual import events
from textual.widgets import Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.screens.help import HelpScreen
from babygpt_tui.ui.widgets.prompt import PromptInput
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until

SIZE = (100, 30)


async def test_sliders_change_the_sampling_params_by_keyboard_and_click(make_app, backend) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        temp = app.query_one("#knob-temperature", Slider)
        temp.focus()
        await pilot.press("right", "right")
        assert app.params.temperature == 0.9
        await pilot.press("home")
        assert app.params.temperature == 0.0  # greedy
        assert temp.render().plain.endswith("greedy")
        top_k = app.query_one("#knob-top_k", Slider)
        assert top_k.maximum == backend.info.vocab_size
        top_k.focus()
        await pilot.press("right", "right", "right")
        assert app.params.top_k == 3 and isinstance(app.params.top_k, int)
        start, width = app.query_one("#knob-top_p", Slider)._track()
        await pilot.click("#knob-top_p", offset=(start, 0))
        assert app.params.top_p == 0.05
        length = app.query_one("#knob-max_new_tokens", Slider)
        await pilot.click("#knob-max_new_tokens", offset=(length._track()[0] + length._track()[1] - 1, 0))
        assert app.params.max_new_tokens == 2048


async def test_reset_to_defaults_restores_every_knob(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one("#knob-temperature", Slider).focus()
        await pilot.press("end")
        app.query_one("#knob-min_p", Slider).focus()
        await pilot.press("pageup")
        assert app.params != SamplingParams()
        await pilot.press("f5")
        assert app.params == SamplingParams()
        assert app.query_one("#knob-temperature", Slider).value == 0.8


async def test_unknown_characters_are_named_in_a_notification_and_skipped(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        await send(pilot, "明月☃x")
        await finished(pilot)
        assert "'☃'" in notes.text() and "'x'" in notes.text() and "skipped" in notes.text()
        assert app.chat.turns[0].stop_reason == "length"
        assert app.chat.turns[0].prompt == "明月☃x"


async def test_empty_prompt_generates_from_the_start_token(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=10))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "")
        await finished(pilot)
        assert backend.requests[0].prompt == "" and len(app.chat.turns[0].reply) == 10
        assert "new poem" in str(app.query(".turn-prompt").last(Static).render())


async def test_ctrl_j_inserts_a_new_line_and_history_recalls_prompts(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=3))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        prompt.focus()
        await pilot.press("明", "ctrl+j", "月")
        assert prompt.text == "明\n月"
        await pilot.press("enter")
        await finished(pilot)
        assert app.chat.turns[0].prompt == "明\n月"
        await send(pilot, "春")
        await finished(pilot, turns=2)
        await pilot.press("x", "up")  # first line: recall the newest prompt
        assert prompt.text == "春"
        await pilot.press("up")
        assert prompt.text == "明\n月"
        await pilot.press("down")  # cursor is on the last line: forward again
        assert prompt.text == "春"
        await pilot.press("down")
        assert prompt.text == "x"  # back to the draft


async def test_continue_mode_sends_the_transcript_so_far(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=4))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await finished(pilot)
        await pilot.click("#mode-continue")
        assert app.query_one("#knobs").context_mode == "continue"
        await send(pilot, "月")
        await finished(pilot, turns=2)
        first = app.chat.turns[0]
        assert backend.requests[1].prompt == first.prompt + first.reply + "月"
        assert app.chat.turns[1].context_mode == "continue"
        assert "continued" in str(app.query(".turn-footer").last(Static).render())


async def test_fixed_seed_reproduces_and_regenerate_replaces_the_last_reply(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=20, temperature=1.5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.click("#seed-fixed")
        seed_input = app.query_one("#seed-value")
        seed_input.value = "1234"
        await send(pilot, "明")
        await finished(pilot)
        await send(pilot, "明")
        await finished(pilot, turns=2)
        one, two = app.chat.turns
        assert one.seed == two.seed == 1234 and one.reply == two.reply
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: backend.runs == 3)
        await finished(pilot, turns=2)
        assert len(app.chat.turns) == 2 and len(app.query(TurnView)) == 2
        again = app.chat.turns[1]
        assert again.prompt == "明" and again.seed != 1234


async def test_copy_puts_the_last_reply_on_the_clipboard(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=12))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+o")  # nothing to copy yet: the action is disabled (dimmed in the footer)
        assert app.clipboard == ""
        await send(pilot, "明")
        await finished(pilot)
        await pilot.press("ctrl+o")
        assert app.clipboard == app.chat.turns[0].reply and len(app.clipboard) == 12


async def test_help_opens_with_f1_and_question_mark_and_closes_with_escape(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        app.query_one(Transcript).focus()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)
        app.query_one(PromptInput).focus()
        await pilot.press("question_mark")  # in the prompt, ? is just a character
        assert app.query_one(PromptInput).text == "?"


async def test_typing_while_a_slider_has_focus_goes_to_the_prompt(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one("#knob-temperature", Slider).focus()
        await pilot.pause()
        for key in ("明", "月", "enter"):  # a burst, as a fast typist or a terminal sends it
            event = events.Key(key, key if len(key) == 1 else None)
            app._driver.send_message(event)
        await finished(pilot)
        assert app.query_one(PromptInput).has_focus
        assert app.chat.turns[0].prompt == "明月"
        app.query_one(Transcript).focus()
        await pilot.pause()
        await pilot.press("春")
        assert app.query_one(PromptInput).text == "春"


async def test_every_action_is_in_the_command_palette(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "Stop",
            "Regenerate",
            "Copy reply",
            "Find in the transcript",
            "Previous reply",
            "Toggle one poem per reply",
            "Reset sampling knobs",
            "Toggle context mode",
            "Toggle fixed seed",
            "Toggle sidebar",
            "Help",
            "Theme",
            "Quit",
        ):
            assert title in titles
        await pilot.press("ctrl+b")
        assert not app.query_one("#sidebar").display


async def test_small_terminal_still_shows_prompt_and_knobs(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        assert prompt.region.height >= 3 and prompt.region.bottom <= 23
        assert prompt.region.width == 80  # the sidebar is an overlay below 90 columns, closed
        await pilot.press("ctrl+b")
        temp = app.query_one("#knob-temperature", Slider)
        assert temp.region.width >= 20 and 0 < temp.region.y < 23
        reset = app.query_one("#reset-knobs")
        reset.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click("#reset-knobs")
        assert app.params == SamplingParams()


async def test_every_built_in_theme_works(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for name in sorted(app.available_themes):
            app.theme = name
            await pilot.pause()
            assert app.query_one("#knob-temperature", Slider).render().plain.startswith("temp")
