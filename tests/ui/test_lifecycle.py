"""The reply lifecycle without a screen: what it sends to the engine and what it tells the app,
for a prompt, one queued while loading, Esc, regenerate, replay, branch and a dying engine."""

from __future__ import annotations

from dataclasses import replace

from babygpt_tui.api import Cancel, Generate, GenStats, ModelInfo, SamplingParams, Started, TokenBatch
from babygpt_tui.token_record import TokenRecord
from babygpt_tui.ui.conversation import Conversation
from babygpt_tui.ui.lifecycle import Knobs, ReplyLifecycle

INFO = ModelInfo("m.safetensors", "/m", 1000, 50, 8, 1, 1, 8, "cpu", "float32", sha256="ab" * 32)
KNOBS = Knobs(SamplingParams(max_new_tokens=5), "fresh", 7)


class Engine:
    def __init__(self) -> None:
        self.sent: list = []
        self.starts = 0

    def start(self) -> None:
        self.starts += 1


def lifecycle(context_keep: int | None = None) -> tuple[ReplyLifecycle, Engine]:
    engine = Engine()
    replies = ReplyLifecycle(Conversation(), engine.sent.append, engine.start, context_keep)
    replies.engine_starting()
    return replies, engine


def stats(n: int, reason: str = "length") -> GenStats:
    return GenStats(n, 1, 1.0, 0.01, 400.0, reason, 7)  # type: ignore[arg-type]


def batch(replies: ReplyLifecycle, text: str) -> TokenBatch:
    records = tuple(TokenRecord(1, 0.5, 0.5) for _ in text)
    return TokenBatch(replies.chat.turn_id, text, records, ((0, KNOBS.params),), len(text), 0, None, 0, False, 0)


def test_a_prompt_sent_while_loading_waits_then_becomes_one_request_with_the_context_keep() -> None:
    replies, engine = lifecycle(context_keep=3)
    queued = replies.submit("明月", KNOBS)
    assert queued.accepted and queued.started is None and "still loading" in queued.notes[0].text
    assert replies.submit("春", KNOBS).notes[0].severity == "warning"  # one at a time; it stays in the box
    started = replies.loaded(INFO)
    assert started.started is not None and started.started.prompt == "明月" and started.started.seed == 7
    (request,) = engine.sent
    assert isinstance(request, Generate) and request.turn == replies.chat.turn_id
    assert request.request.prompt == "明月" and request.request.context_keep == 3 and request.request.seed == 7
    assert request.request.top_alternatives == 10 and request.schedule == ()


def test_a_long_prompt_is_cropped_once_and_the_user_is_told() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)  # block 8: the model reads 8 characters
    outcome = replies.submit("x" * 100, KNOBS)
    assert outcome.started.prompt == "x" * 8 and engine.sent[0].request.prompt == "x" * 8
    (note,) = outcome.notes
    assert note.title == "Long prompt cropped"
    assert note.text == (
        "The prompt has 100 characters; the model reads at most 8 characters, so the last 8 were sent "
        "and the first 92 left out."
    )


def test_a_prompt_just_over_the_block_is_cropped_with_a_notice_too() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)
    replies.finished(replies.chat.turn_id, None)
    outcome = replies.submit("y" * 9, KNOBS)  # between one and two blocks: was cropped by the engine, silently
    assert engine.sent[-1].request.prompt == "y" * 8
    assert [n.title for n in outcome.notes] == ["Long prompt cropped"] and "first 1 left out" in outcome.notes[0].text
    replies.finished(replies.chat.turn_id, None)
    assert replies.submit("z" * 8, KNOBS).notes == ()  # exactly a block: nothing to say


def test_tokens_fill_the_turn_esc_cancels_and_stale_messages_are_ignored() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)
    turn = replies.submit("明", KNOBS).started
    assert replies.started(Started(replies.chat.turn_id, ("☃",))).notes[0].title == "Unknown characters"
    assert replies.tokens(batch(replies, "月几")) is turn and turn.reply == "月几" and len(turn.records) == 2
    replies.stop()
    assert engine.sent[-1] == Cancel(replies.chat.turn_id)
    assert replies.finished(replies.chat.turn_id - 1, stats(2)).finished is None  # an older reply's
    done = replies.finished(replies.chat.turn_id, stats(2, "stopped"))
    assert done.finished is turn and turn.stop_reason == "stopped" and turn.params_changes == [(0, KNOBS.params)]


def test_regenerate_while_generating_stops_first_then_replaces_the_last_reply() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)
    first = replies.submit("明", KNOBS).started
    assert replies.regenerate(KNOBS).started is None and isinstance(engine.sent[-1], Cancel)
    replies.finished(replies.chat.turn_id, stats(3, "stopped"))
    knobs = replies.take_regenerate()
    assert knobs == KNOBS and replies.take_regenerate() is None
    outcome = replies.regenerate(knobs)
    assert outcome.removed is first and outcome.started.prompt == "明" and replies.chat.turns == [outcome.started]


def test_replay_sends_the_stored_knobs_and_forced_tokens() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)
    assert "no turn yet" in replies.replay().notes[0].text
    turn = replies.submit("明", KNOBS).started
    replies.tokens(batch(replies, "月"))
    turn.records[0] = TokenRecord(4, 0.5, 0.5, forced=True)
    turn.params_changes.append((1, SamplingParams(temperature=0.0)))
    replies.finished(replies.chat.turn_id, stats(1))
    replies.replay()
    request = engine.sent[-1]
    assert request.request.seed == 7 and request.request.forced_prefix == (4,)
    # to the turn's own length: the 1 token it reached
    assert request.schedule == (
        (0, replace(KNOBS.params, max_new_tokens=1)),
        (1, SamplingParams(0.0, max_new_tokens=1)),
    )
    assert request.request.params.max_new_tokens == 1


def test_an_engine_that_dies_mid_reply_leaves_an_error_turn_and_the_next_prompt_starts_a_fresh_one() -> None:
    replies, engine = lifecycle()
    replies.loaded(INFO)
    turn = replies.submit("明", KNOBS).started
    replies.tokens(batch(replies, "月几"))
    outcome = replies.engine_stopped("The engine process was killed (SIGKILL)")
    assert outcome.finished is turn and turn.stop_reason == "error" and turn.reply == "月几" and "SIGKILL" in turn.error
    assert outcome.notes[0].severity == "error" and not replies.ready
    queued = replies.submit("春", KNOBS)
    assert queued.accepted and engine.starts == 1 and "fresh engine" in queued.notes[0].text
    assert replies.loaded(INFO).started.prompt == "春"


def test_branch_and_replay_wait_for_a_loaded_model() -> None:
    replies, engine = lifecycle()
    assert "no turn yet" in replies.replay().notes[0].text
    replies.loaded(INFO)
    source = replies.submit("明", KNOBS).started
    replies.tokens(batch(replies, "月几"))
    assert "a reply is running" in replies.branch(source, 1, 9, KNOBS).notes[0].text
    replies.finished(replies.chat.turn_id, stats(2))
    branch = replies.branch(source, 1, 9, KNOBS).started
    assert branch.prompt == "明月" and engine.sent[-1].request.forced_prefix == (9,)
