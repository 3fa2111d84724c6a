"""Per-token probabilities without a running app: what the worker stores per token, how the
inspector reads it back, the heat-map's buckets and content, the cursor's moves, branching."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from babygpt_tui.api import Alternative, GenerationRequest, SamplingParams, TokenEvent
from babygpt_tui.session import ModelRef, Session, Turn, dumps_session, loads_session
from babygpt_tui.ui.conversation import Conversation
from babygpt_tui.ui.token_info import (
    HEAT_EDGES,
    branch_note,
    bucket,
    forced_prefix,
    prob_at,
    step_at,
    token_entry,
    with_extras,
)
from babygpt_tui.ui.widgets.heatmap import move, reply_content
from babygpt_tui.ui.worker import Batcher


def event(step: int, token: int, params: SamplingParams, raw=(), warped=(), logprob=-1.0, wp=0.5) -> TokenEvent:
    return TokenEvent(
        id=token,
        text=chr(0x4E00 + token),
        logprob=logprob,
        position=step,
        step=step,
        cache_len=step + 1,
        shifted=False,
        time=1.0 + step * 0.001,
        params=params,
        top_raw=tuple(raw),
        top_warped=tuple(warped),
        warped_prob=wp,
    )


def alt(token: int, p: float) -> Alternative:
    return Alternative(token, chr(0x4E00 + token), p)


def generated(gen, params: SamplingParams, prompt: str = "明月", seed: int = 3, n: int = 12, **request):
    run = gen.stream(
        GenerationRequest(prompt, replace(params, max_new_tokens=n), seed=seed, top_alternatives=10, **request)
    )
    return list(run)


def test_entries_hold_raw_and_warped_probabilities_rank_id_and_settings_only_when_they_change(tiny_generator) -> None:
    params = SamplingParams(temperature=0.7, top_k=5)
    events = generated(tiny_generator, params)
    batcher = Batcher(turn_id=1, start=0.0, interval=10.0)
    messages = [m for e in events if (m := batcher.add(e))] + [batcher.flush()]
    info = [entry for m in messages if m for entry in m.token_info]
    assert len(info) == len(events) == 12
    for e, entry in zip(events, info, strict=True):
        prob, warped, rank, token, flat = entry[:5]
        assert prob == pytest.approx(math.exp(e.logprob), rel=1e-3)
        assert warped == pytest.approx(e.warped_prob, rel=1e-3)
        assert token == e.id and len(flat) == 4 * 10  # no repetition penalty: the same ten tokens
        assert flat[1::4] == [a.id for a in e.top_raw] and flat[0::4] == [a.text for a in e.top_raw]
        assert flat[2::4] == pytest.approx([a.prob for a in e.top_raw], abs=1e-4)
        warped_by_id = {a.id: a.prob for a in e.top_warped}
        assert flat[3::4] == pytest.approx([warped_by_id.get(i, 0.0) for i in flat[1::4]], abs=1e-4)
        assert sum(p > 0 for p in flat[3::4]) == 5  # top-k 5: the other five were cut
        assert rank == next((i + 1 for i, a in enumerate(e.top_raw) if a.id == e.id), 0)
    assert info[0][5] == {"params": {**events[0].params.__dict__}}  # settings on the first token only
    assert all(len(entry) == 5 for entry in info[1:])
    json.dumps(info)  # plain JSON


def test_a_settings_change_mid_reply_is_recorded_at_that_token() -> None:
    a, b = SamplingParams(), SamplingParams(temperature=0.2)
    batcher = Batcher(turn_id=1, start=0.0, interval=10.0)
    messages = [batcher.add(event(i, i, p)) for i, p in enumerate([a, a, b, b])] + [batcher.flush()]
    info = [entry for m in messages if m for entry in m.token_info]
    assert [len(e) for e in info] == [6, 5, 6, 5]
    assert info[2][5]["params"]["temperature"] == 0.2
    assert step_at(info, "一丁七万", 3).params == b and step_at(info, "一丁七万", 1).params == a


def test_forced_tokens_are_marked() -> None:
    batcher = Batcher(turn_id=1, start=0.0, interval=10.0, forced=1)
    messages = [batcher.add(event(0, 1, SamplingParams())), batcher.add(event(1, 2, SamplingParams())), batcher.flush()]
    info = [entry for m in messages if m for entry in m.token_info]
    assert info[0][5]["forced"] is True and len(info[1]) == 5 and forced_prefix(info) == (1,)


def test_the_inspector_step_lists_alternatives_with_their_warped_probability_and_cuts() -> None:
    raw = [alt(1, 0.5), alt(2, 0.3), alt(3, 0.1)]
    warped = [alt(1, 0.62), alt(2, 0.38), alt(3, 0.0)]  # min-p cut token 3
    entry = token_entry(event(0, 2, SamplingParams(min_p=0.25), raw, warped, logprob=math.log(0.3), wp=0.38), None)
    step = step_at([entry], "丁", 0)
    assert step is not None and step.rank == 2 and step.prob == pytest.approx(0.3)
    assert [(c.id, c.raw, c.warped, c.chosen, c.cut) for c in step.choices] == [
        (1, 0.5, 0.62, False, False),
        (2, 0.3, 0.38, True, False),
        (3, 0.1, 0.0, False, True),
    ]
    assert step.params == SamplingParams(min_p=0.25)


def test_a_token_outside_the_top_list_is_still_offered_and_tiny_probabilities_survive_rounding() -> None:
    raw = [alt(1, 0.9), alt(2, 0.09)]
    entry = token_entry(event(0, 7, SamplingParams(), raw, raw, logprob=math.log(3e-7), wp=3e-7), None)
    step = step_at([entry], "七", 0)
    assert step.rank == 0 and step.prob == pytest.approx(3e-7, rel=1e-3)
    assert step.choices[-1].id == 7 and step.choices[-1].chosen
    assert token_entry(event(0, 1, SamplingParams(), [alt(1, 0.00002)], [alt(1, 0.00002)]), None)[4][3] > 0


def test_a_token_lifted_into_the_warped_top_by_the_penalty_is_listed_after_the_raw_ones() -> None:
    raw = [alt(1, 0.6), alt(2, 0.3)]
    warped = [alt(3, 0.7), alt(2, 0.3)]  # token 1 penalised below the warped top; 3 lifted into it
    step = step_at([token_entry(event(0, 3, SamplingParams(), raw, warped), None)], "万", 0)
    assert [(c.id, c.raw, c.warped, c.chosen) for c in step.choices] == [
        (1, 0.6, None, False),
        (2, 0.3, 0.3, False),
        (3, None, 0.7, True),
    ]


def test_damaged_token_info_reads_as_no_data() -> None:
    assert step_at([["x"]], "一", 0) is None and step_at([], "一", 0) is None
    assert prob_at([[True]], 0) is None and prob_at(["junk"], 0) is None and prob_at([[0.5]], 0) == 0.5
    assert branch_note([5]) == "" and forced_prefix([[1, 2]]) == ()


def test_heat_buckets_cover_zero_to_one() -> None:
    assert bucket(0.0) == 0 and bucket(0.009) == 0 and bucket(0.01) == 1
    assert bucket(1.0) == len(HEAT_EDGES) and bucket(0.79) == 4


def test_reply_content_colours_runs_and_gives_a_coloured_newline_a_cell() -> None:
    info = [[0.001], [0.002], [0.9], [0.3], [0.9]]
    styles = ["s0", "s1", "s2", "s3", "s4", "s5"]
    content = reply_content("一丁\n七万", 0, info, styles)  # type: ignore[arg-type]
    assert content.plain == "一丁 \n七万"
    assert [(s.start, s.end, s.style) for s in content.spans] == [
        (0, 2, "s0"),
        (2, 4, "s5"),
        (4, 5, "s3"),
        (5, 6, "s5"),
    ]
    cursor = reply_content("一丁\n七万", 0, info, None, cursor=2, cursor_style="c")  # type: ignore[arg-type]
    assert cursor.plain == "一丁↵\n七万" and [(s.start, s.end) for s in cursor.spans] == [(2, 4)]
    assert reply_content("七万", 3, info, None).spans == []  # no heat, cursor elsewhere: plain


@pytest.mark.parametrize(
    ("at", "key", "expected"),
    [
        ((0, 2), "left", (0, 1)),
        ((2, 0), "left", (0, 6)),
        ((0, 0), "left", (0, 0)),
        ((0, 2), "right", (0, 3)),
        ((0, 6), "right", (2, 0)),
        ((2, 1), "right", (2, 1)),
        ((0, 5), "up", (0, 1)),
        ((0, 1), "down", (0, 5)),
        ((0, 5), "down", (2, 1)),
        ((2, 0), "up", (0, 4)),
        ((2, 1), "pageup", (0, 0)),
        ((0, 3), "pagedown", (2, 0)),
        ((0, 3), "end", (0, 6)),
        ((0, 3), "home", (0, 0)),
    ],
)
def test_the_cursor_moves_by_character_line_and_reply(at, key, expected) -> None:
    replies = ["一丁七\n万丈三", "", "上下"]  # an empty reply (an error turn) is skipped
    assert move(replies, at, key) == expected


def test_branch_builds_the_prefix_prompt_forces_the_choice_and_keeps_the_source() -> None:
    chat = Conversation(model=ModelRef("m.safetensors", "abc"), block_size=16)
    source, _ = chat.begin("明月", SamplingParams(), seed=1)
    chat.append_text(chat.turn_id, "几时有", [[0.5, 0.5, 1, 5, []]] * 3)
    chat.finish(chat.turn_id, None)
    turn, request = chat.branch(source, 2, choice=42, params=SamplingParams(temperature=0.3), seed=9)
    assert chat.turns == [source, turn] and source.reply == "几时有"
    assert turn.prompt == "明月几时" and request.prompt == "明月几时" and request.forced_prefix == (42,)
    assert request.top_alternatives == 10 and request.seed == 9 and request.params.temperature == 0.3
    chat.append_text(chat.turn_id, "天", [[0.1, 0.1, 0, 42, []]])
    assert turn.token_info[0][5]["branch"] == {"turn": 1, "at": 3, "was": "有"}
    assert "branched from turn 1 at character 3" in branch_note(turn.token_info)
    with pytest.raises(ValueError, match="being written"):
        chat.branch(source, 0, 42, SamplingParams())


def test_branch_of_an_empty_prompt_keeps_the_start_newline_and_refuses_another_model() -> None:
    chat = Conversation(model=ModelRef("a.safetensors", "aaa"), block_size=16)
    source, _ = chat.begin("", SamplingParams(), seed=1)
    chat.append_text(chat.turn_id, "明月", [])
    chat.finish(chat.turn_id, None)
    _, request = chat.branch(source, 1, 7, SamplingParams())
    assert request.prompt == "\n明"  # the model started from the corpus separator
    chat.finish(chat.turn_id, None)
    other = Turn("x", reply="yz", model=ModelRef("b.safetensors", "bbb"))
    chat.turns.append(other)
    with pytest.raises(ValueError, match="token ids differ"):
        chat.branch(other, 0, 7, SamplingParams())


def test_token_info_survives_a_session_round_trip(tiny_generator) -> None:
    events = generated(tiny_generator, SamplingParams(), n=8)
    batcher = Batcher(turn_id=1, start=0.0, interval=10.0, forced=1)
    info = [e for m in [batcher.add(ev) for ev in events] + [batcher.flush()] if m for e in m.token_info]
    info[0] = with_extras(info[0], branch={"turn": 1, "at": 2, "was": "x"})
    reply = "".join(e.text for e in events)
    session = Session("s", turns=[Turn("明月", reply=reply, stop_reason="length", token_info=info)])
    loaded = loads_session(dumps_session(session))
    assert loaded.turns[0].token_info == info
    for i in range(len(reply)):
        assert step_at(loaded.turns[0].token_info, reply, i) == step_at(info, reply, i)
    assert branch_note(loaded.turns[0].token_info) == branch_note(info) != ""
