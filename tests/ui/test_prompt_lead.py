"""The transcript draws each prompt in front of its reply, so the reply continues the prompt's
line (fresh and continue mode), in the prompt's own style; the characters the model skipped are
struck through, so what the model read is visible."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.heatmap import ReplyChunk
from babygpt_tui.ui.widgets.prompt_lead import prompt_lead
from babygpt_tui.ui.widgets.transcript import TurnView
from tests.plugins.pilot import finished, ready, send

SIZE = (100, 30)


def spans_of(chunk: ReplyChunk, style_class: str) -> list[str]:
    content, style = chunk.render(), chunk.get_visual_style(style_class)
    return [content.plain[s.start : s.end] for s in content.spans if s.style == style]


async def test_the_reply_continues_the_prompts_line_in_fresh_and_continue_mode(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=12))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        app.action_toggle_context_mode()
        await send(pilot, "春风")
        await finished(pilot, 2)
        for view, turn in zip(app.query(TurnView), app.chat.turns, strict=True):
            chunk = view.query_one(ReplyChunk)
            first_row = "".join(seg.text for seg in chunk.render_line(0)).strip()
            assert first_row.startswith(turn.prompt + turn.reply.split("\n", 1)[0][:5])  # one line
            assert spans_of(chunk, "turn--prompt") == [turn.prompt]
            assert not view.query_one(".turn-prompt").display  # no separate prompt row
        assert app.chat.turns[1].context_mode == "continue"


async def test_characters_the_model_skipped_are_struck_through_in_the_prompt(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "hello 明月 xyz")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert set(turn.skipped) == set("helloxyz") - set(backend.gen.tokenizer.chars)
        chunk = app.query_one(ReplyChunk)
        await pilot.pause()
        assert spans_of(chunk, "turn--skipped") == ["hello", "xyz"]
        assert chunk.get_visual_style("turn--skipped").strike
        assert chunk.char_at(3, 0) is None  # a click on the prompt inspects nothing


def test_the_lead_maps_reply_positions_past_a_multi_line_prompt() -> None:
    lead = prompt_lead("一\n春风", (), None, None)
    assert (lead.lines, lead.width) == (1, 2)
    assert lead.to_reply(1, 1) is None and lead.to_reply(0, 0) is None
    assert lead.to_reply(2, 1) == (0, 0) and lead.to_reply(3, 2) == (3, 1)
    assert lead.to_content(0, 0) == (1, 2) and lead.to_content(1, 3) == (2, 3)
