"""Any turn can be selected (↑/↓ on the transcript, or found with Ctrl+F): Ctrl+O copies its
reply, Enter puts its prompt in the box to edit and resend as a new turn, F3 replays it."""

from __future__ import annotations

from textual.widgets import Input, Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import Turn
from babygpt_tui.ui.transcript_search import matching_turns, next_match
from babygpt_tui.ui.widgets.prompt import PromptInput
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import finished, ready, send, wait_until

SIZE = (100, 30)


async def three_turns(pilot) -> None:
    await ready(pilot)
    for n, prompt in enumerate(("明月", "春风", "秋水"), 1):
        await send(pilot, prompt)
        await finished(pilot, n)


async def test_select_a_turn_copy_it_and_edit_its_prompt_into_a_new_turn(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=10))
    async with app.run_test(size=SIZE) as pilot:
        await three_turns(pilot)
        transcript = app.query_one(Transcript)
        transcript.focus()
        await pilot.press("up", "up")  # the last turn, then the one before
        second = app.chat.turns[1]
        assert transcript.selected is second
        assert [v.has_class("-selected") for v in app.query(TurnView)] == [False, True, False]
        await pilot.press("ctrl+o")
        assert app.clipboard == second.reply
        await pilot.press("enter")  # edit: its prompt goes to the box
        prompt = app.query_one(PromptInput)
        assert prompt.text == "春风" and prompt.has_focus
        await pilot.press("又", "enter")
        await finished(pilot, 4)
        assert app.chat.turns[3].prompt == "春风又" and app.chat.turns[1] is second  # a new turn


async def test_ctrl_f_finds_a_turn_and_counts_the_matches(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=10))
    async with app.run_test(size=SIZE) as pilot:
        await three_turns(pilot)
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: app.query("#search-input") and app.query_one("#search-input").has_focus)
        for ch in "春风":
            await pilot.press(ch)
        transcript = app.query_one(Transcript)
        await wait_until(pilot, lambda: transcript.selected is app.chat.turns[1])
        count = str(app.query_one("#search-count", Static).render())
        assert count.endswith(f"/{len(matching_turns(app.chat.turns, '春风'))}")
        app.query_one("#search-input", Input).value = "no such text ✗"
        await wait_until(pilot, lambda: str(app.query_one("#search-count", Static).render()) == "no match")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.query("#search"))
        assert transcript.has_focus and transcript.selected is app.chat.turns[1]  # the last found stays selected


def test_matches_cover_prompts_and_every_reply_and_wrap_around() -> None:
    a, b, c = Turn("明月", reply="x"), Turn("y", reply="Moon"), Turn("z", reply="q")
    c.alternatives = [Turn("z", reply="明")]
    assert matching_turns([a, b, c], "明") == [0, 2] and matching_turns([a, b, c], "moon") == [1]
    assert matching_turns([a], "") == []
    assert next_match([0, 2], None, 0) == 1 and next_match([0, 2], 1, 0) == 1
    assert next_match([0, 2], 2, 1) == 0 and next_match([0, 2], 0, -1) == 1 and next_match([], 0, 1) is None
