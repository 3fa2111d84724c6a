"""Where the keyboard goes: Tab order, Esc back to the prompt, typing on a control goes to the
prompt, and checkbox / radio states that read without colour."""

from __future__ import annotations

from textual.widgets import Button

from babygpt_tui.ui.widgets.prompt import PromptInput
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.toggles import StateCheckbox, StateRadio
from babygpt_tui.ui.widgets.transcript import Transcript
from tests.plugins.pilot import ready

SIZE = (120, 36)


def focused_id(app) -> str:
    return app.focused.id if app.focused is not None else ""


async def test_tab_goes_from_the_prompt_through_the_knobs_then_the_transcript(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert focused_id(app) == "prompt"
        order = []
        for _ in range(13):
            await pilot.press("tab")
            order.append(focused_id(app))
        assert order == [
            "knob-temperature",
            "knob-top_k",
            "knob-top_p",
            "knob-min_p",
            "knob-repetition_penalty",
            "knob-max_new_tokens",
            "seed-fixed",
            "context-mode",
            "stop-poem",
            "reset-knobs",
            "save-defaults",
            "transcript",
            "prompt",
        ]
        await pilot.press("shift+tab")
        assert focused_id(app) == "transcript"


async def test_escape_returns_to_the_prompt_from_any_control(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for selector in ("#knob-top_p", "#seed-fixed", "#context-mode", "#save-defaults", "#transcript"):
            app.query_one(selector).focus()
            await pilot.pause()
            await pilot.press("escape")
            assert focused_id(app) == "prompt", selector


async def test_text_typed_on_a_button_checkbox_or_radio_goes_to_the_prompt(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        for selector, char in (("#reset-knobs", "明"), ("#seed-fixed", "月"), ("#context-mode", "x")):
            app.query_one(selector).focus()
            await pilot.pause()
            await pilot.press(char)
            assert prompt.has_focus, selector
        assert prompt.text == "明月x"
        box = app.query_one("#seed-fixed", StateCheckbox)
        box.focus()
        await pilot.press("space")  # space still ticks the box, and stays there
        assert box.value and box.has_focus
        app.query_one("#reset-knobs", Button).focus()
        await pilot.press("question_mark")  # ? is still the help
        assert type(app.screen).__name__ == "HelpScreen"


async def test_checkbox_and_radio_states_read_without_colour(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        box = app.query_one("#seed-fixed", StateCheckbox)
        fresh, cont = app.query_one("#mode-fresh", StateRadio), app.query_one("#mode-continue", StateRadio)

        def glyphs() -> tuple[str, str, str]:
            return box.render().plain[0], fresh.render().plain[0], cont.render().plain[0]

        assert glyphs() == ("☐", "◉", "○")
        await pilot.click("#seed-fixed")
        await pilot.click("#mode-continue")
        assert glyphs() == ("☑", "○", "◉")
        panel = app.query_one("#knobs")
        assert panel.context_mode == "continue" and panel.fixed_seed is not None


async def test_sliders_and_transcript_are_still_focus_stops_that_forward_typing(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one(Transcript).focus()
        await pilot.press("a")
        app.query_one("#knob-min_p", Slider).focus()
        await pilot.press("b")
        assert app.query_one(PromptInput).text == "ab"
