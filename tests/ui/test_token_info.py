"""Per-token records as the UI reads them, without a running app: the inspector's view of a
step, the heat-map's buckets and content, the cursor's moves, branching and replay data."""

from __future__ import annotations

import pytest

from babygpt_tui.api import GenerationRequest, SamplingParams, TokenBatch
from babygpt_tui.batching import Batcher
from babygpt_tui.session import BranchRef, ModelRef, Session, Turn, dumps_session, loads_session
from babygpt_tui.token_record import TokenRecord
from babygpt_tui.ui.conversation import Conversation
from babygpt_tui.ui.token_info import HEAT_EDGES, branch_note, bucket, forced_prefix, params_at, step_at
from babygpt_tui.ui.widgets.heatmap import move, reply_content


def rec(token: int, prob: float = 0.5, alts: tuple = (), forced: bool = False) -> TokenRecord:
    """A record with alternatives given as (id, raw, warped)."""
    return TokenRecord(
        token,
        prob,
        prob,
        tuple(a[0] for a in alts),
        tuple(chr(0x4E00 + a[0]) for a in alts),
        tuple(a[1] for a in alts),
        tuple(a[2] for a in alts),
        forced,
    )


def batch(chat: Conversation, text: str, records: list[TokenRecord]) -> TokenBatch:
    return TokenBatch(chat.turn_id, text, tuple(records), (), len(text), 0.0, None, 0, False, 0.0)


def test_the_inspector_step_lists_alternatives_with_their_warped_probability_and_cuts() -> None:
    record = rec(2, 0.3, ((1, 0.5, 0.62), (2, 0.3, 0.38), (3, 0.1, 0.0)))  # min-p cut token 3
    turn = Turn("", reply="丁", records=[record], params_changes=[(0, SamplingParams(min_p=0.25))])
    step = step_at(turn, 0)
    assert step is not None and step.rank == 2 and step.prob == pytest.approx(0.3)
    assert [(c.id, c.raw, c.warped, c.chosen, c.cut) for c in step.choices] == [
        (1, 0.5, 0.62, False, False),
        (2, 0.3, 0.38, True, False),
        (3, 0.1, 0.0, False, True),
    ]
    assert step.params == SamplingParams(min_p=0.25)


def test_a_token_outside_the_top_list_is_still_offered() -> None:
    step = step_at(Turn("", reply="七", records=[rec(7, 3e-7, ((1, 0.9, 0.9), (2, 0.09, 0.09)))]), 0)
    assert step is not None and step.rank == 0 and step.prob == pytest.approx(3e-7)
    assert step.choices[-1].id == 7 and step.choices[-1].chosen


def test_the_settings_at_a_step_are_the_last_change_before_it() -> None:
    a, b = SamplingParams(), SamplingParams(temperature=0.2)
    turn = Turn("", reply="一丁七万", records=[rec(i) for i in range(4)], params_changes=[(0, a), (2, b)])
    assert [params_at(turn, i) for i in range(4)] == [a, a, b, b]
    assert params_at(Turn(""), 0) is None  # not recorded (a reply from before the heat-map)


def test_a_reply_without_records_has_no_step_and_a_branch_is_noted() -> None:
    assert step_at(Turn("", reply="一"), 0) is None and step_at(Turn("", reply="", records=[rec(1)]), 0) is None
    assert branch_note(None) == ""
    assert branch_note(BranchRef(2, 18, "\n")) == "↳ branched from turn 2 at character 18 (the model wrote ↵)"
    assert forced_prefix([rec(1, forced=True), rec(2, forced=True), rec(3), rec(4, forced=True)]) == (1, 2)


def test_heat_buckets_cover_zero_to_one() -> None:
    assert bucket(0.0) == 0 and bucket(0.009) == 0 and bucket(0.01) == 1
    assert bucket(1.0) == len(HEAT_EDGES) and bucket(0.79) == 4


def test_reply_content_colours_runs_and_gives_a_coloured_newline_a_cell() -> None:
    info = [rec(0, p) for p in (0.001, 0.002, 0.9, 0.3, 0.9)]
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
    chat.append(batch(chat, "几时有", [rec(5)] * 3))
    chat.finish(chat.turn_id, None)
    turn, request = chat.branch(source, 2, choice=42, params=SamplingParams(temperature=0.3), seed=9)
    assert chat.turns == [source, turn] and source.reply == "几时有"
    assert turn.prompt == "明月几时" and request.prompt == "明月几时" and request.forced_prefix == (42,)
    assert request.top_alternatives == 10 and request.seed == 9 and request.params.temperature == 0.3
    assert turn.branch == BranchRef(1, 3, "有")
    assert "branched from turn 1 at character 3" in branch_note(turn.branch)
    with pytest.raises(ValueError, match="being written"):
        chat.branch(source, 0, 42, SamplingParams())


def test_branch_of_an_empty_prompt_keeps_the_poem_boundary_and_refuses_another_model() -> None:
    chat = Conversation(model=ModelRef("a.safetensors", "aaa"), block_size=16)
    source, _ = chat.begin("", SamplingParams(), seed=1)
    chat.append(batch(chat, "明月", []))
    chat.finish(chat.turn_id, None)
    _, request = chat.branch(source, 1, 7, SamplingParams())
    assert request.prompt == "\n\n明"  # the model started after the poem boundary, a blank line
    chat.finish(chat.turn_id, None)
    other = Turn("x", reply="yz", model=ModelRef("b.safetensors", "bbb"))
    chat.turns.append(other)
    with pytest.raises(ValueError, match="token ids differ"):
        chat.branch(other, 0, 7, SamplingParams())


def test_records_survive_a_session_round_trip(tiny_generator) -> None:
    request = GenerationRequest("明月", SamplingParams(max_new_tokens=8), seed=3, top_alternatives=10)
    batcher = Batcher(turn=1, start=0.0, interval=10.0, forced=1)
    batches = [b for e in tiny_generator.stream(request) if (b := batcher.add(e))] + [batcher.flush()]
    records = [r for b in batches if b for r in b.records]
    changes = [c for b in batches if b for c in b.params_changes]
    reply = "".join(b.text for b in batches if b)
    turn = Turn("明月", reply, "length", records=records, params_changes=changes, branch=BranchRef(1, 2, "x"))
    loaded = loads_session(dumps_session(Session("s", turns=[turn]))).turns[0]
    assert loaded.records == records and loaded.params_changes == changes and loaded.branch == turn.branch
    assert [step_at(loaded, i) for i in range(len(reply))] == [step_at(turn, i) for i in range(len(reply))]
    assert loaded.records[0].forced and not loaded.records[1].forced
