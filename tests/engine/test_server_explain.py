"""Explain and the pipeline watch over the engine protocol, against the real `engine --stdio`
child on a tiny checkpoint (block_size 16, so a 60-character reply shifts its cache): each token's
recorded window re-does the forward it was drawn from; a watched reply carries its steps' stages
at most ~10 times a second; the messages round-trip."""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.api import (
    Ack,
    Explain,
    Explained,
    Finished,
    Generate,
    GenerationRequest,
    Hello,
    Load,
    Loaded,
    SamplingParams,
    TokenBatch,
    Watch,
    from_wire,
    to_wire,
)
from babygpt_tui.explanation import STAGES, Candidate, Stage, StepStages
from tests.engine.test_server import Engine

PROMPT = "明月几时有"


@pytest.fixture(scope="module")
def engine(tmp_path_factory, make_tiny_model, tiny_tokenizer):
    from babygpt_tui.engine.checkpoint import save_checkpoint

    path = save_checkpoint(
        tmp_path_factory.mktemp("m") / "tiny.safetensors", make_tiny_model(tiny_tokenizer.vocab_size), tiny_tokenizer
    )
    e = Engine()
    assert isinstance(e.next(), Hello)
    e.send(Load(str(path), device="cpu", dtype="float32", threads=1))
    assert isinstance(e.next(), Loaded)
    yield e
    e.proc.stdin.close()
    assert e.proc.wait(10) == 0


def reply(e: Engine, turn: int, params: SamplingParams, prompt: str = PROMPT) -> tuple[list[TokenBatch], Finished]:
    e.send(Generate(turn, GenerationRequest(prompt, params, seed=5, top_alternatives=10, context_keep=6)))
    batches = []
    for event in e.until(Finished):
        if isinstance(event, TokenBatch):
            batches.append(event)
            e.send(Ack(turn))
    return batches, event


def answer(e: Engine, request: Explain) -> Explained:
    e.send(request)
    events = list(e.until(Explained))
    assert events[-1].id == request.id
    return events[-1]


def test_each_tokens_window_redoes_the_forward_it_was_drawn_from(engine) -> None:
    params = SamplingParams(temperature=1.0, top_k=5, max_new_tokens=60)
    batches, finished = reply(engine, 1, params)
    assert finished.stats.shifts >= 2  # past block_size 16: the windows shrank to 6 kept characters, twice
    text = "".join(b.text for b in batches)
    records = [r for b in batches for r in b.records]
    windows = [r.window for r in records]
    assert windows[0] == len(PROMPT) and windows[11] == 16  # the cache grew to block_size
    shifted = windows.index(7, 12)  # then kept 6 and re-prefilled with the new token: 7 seen
    for i in (0, 11, shifted, 59):
        got = answer(engine, Explain(i, PROMPT + text[:i], text[i], records[i].window, params)).explanation
        assert got is not None and got.actual is not None and got.actual.text == text[i]
        assert got.position - got.start + 1 == records[i].window  # the window it saw, after the shifts
        assert math.isclose(got.actual.prob, records[i].prob, rel_tol=1e-3)  # records keep 4 digits
        assert math.isclose(got.stages[-1].actual or 0.0, records[i].warped, rel_tol=1e-3, abs_tol=1e-6)
    # An unknown window (a session from before windows were kept) is the default crop: the last 16
    default = answer(engine, Explain(99, PROMPT + text[:shifted], text[shifted], 0, params)).explanation
    assert default is not None and default.position - default.start + 1 == 16


def test_an_empty_context_is_the_start_of_a_poem_and_mistakes_are_answered_in_words(engine) -> None:
    batches, _ = reply(engine, 2, SamplingParams(temperature=0.0, max_new_tokens=3), prompt="")
    first = batches[0].records[0]
    got = answer(engine, Explain(1, "", batches[0].text[0], first.window, SamplingParams(temperature=0.0)))
    assert got.explanation is not None and got.explanation.start == 0
    assert got.explanation.position == 1  # the poem boundary, a blank line: two ids, as generation starts
    assert math.isclose(got.explanation.actual.prob, first.prob, rel_tol=1e-3)
    assert got.explanation.drawn.text == batches[0].text[0]  # greedy: the draw is what was written
    unknown = answer(engine, Explain(2, "明月", "☃", 0, SamplingParams()))
    assert unknown.explanation is None and "not in the model's vocabulary" in unknown.error
    bad = answer(engine, Explain(3, "明月", "", 0, SamplingParams(top_p=0.0)))
    assert bad.explanation is None and "top_p" in bad.error


def test_a_watched_reply_carries_its_steps_stages_at_most_ten_times_a_second(engine) -> None:
    engine.send(Watch(pipeline=True, top=5))
    params = SamplingParams(temperature=0.0, max_new_tokens=3000)
    start = time.perf_counter()
    batches, finished = reply(engine, 3, params)
    seconds = time.perf_counter() - start
    engine.send(Watch(pipeline=False))
    text = "".join(b.text for b in batches)
    watched = [b.pipeline for b in batches if b.pipeline is not None]
    assert watched and watched[0].step == 0  # the first step at once
    assert len(watched) <= seconds * 10 + 2
    steps = [w.step for w in watched]
    assert steps == sorted(set(steps))
    for w in watched:
        assert [s.name for s in w.stages] == list(STAGES)
        assert w.drawn.text == text[w.step]  # the stages of the step that wrote that character
        last = w.stages[-1]
        assert len(last.top) == 1 and last.top[0].prob == 1.0 and last.kept == 1  # temperature 0
        assert all(len(s.top) <= 5 for s in w.stages)
    unwatched, _ = reply(engine, 4, SamplingParams(max_new_tokens=200))
    assert all(b.pipeline is None for b in unwatched)


def test_an_explain_sent_while_a_reply_streams_is_answered_before_it_ends(engine) -> None:
    engine.send(Generate(5, GenerationRequest(PROMPT, SamplingParams(max_new_tokens=100_000), seed=1)))
    seen_tokens = 0
    engine.send(Explain(7, "明月几时", "有", 0, SamplingParams()))
    for event in engine.until(Explained):
        if isinstance(event, TokenBatch):
            seen_tokens = event.tokens
            engine.send(Ack(5))
        assert not isinstance(event, Finished)
    assert event.explanation is not None and seen_tokens < 100_000
    engine.send(Ack(5))
    from babygpt_tui.api import Cancel

    engine.send(Cancel(5))
    for event in engine.until(Finished):
        if isinstance(event, TokenBatch):
            engine.send(Ack(5))
    assert event.stats.stop_reason == "stopped"


probs = st.floats(0, 1).map(lambda p: float(f"{p:.6g}"))
candidates = st.builds(Candidate, st.integers(0, 999), st.text(min_size=1, max_size=1), probs)
stage_rows = st.tuples(
    *(
        st.builds(Stage, st.just(n), st.tuples(candidates), st.integers(0, 99), st.booleans(), st.none() | probs)
        for n in STAGES
    )
)
messages = st.one_of(
    st.builds(
        Explain, st.integers(0, 2**40), st.text(), st.text(max_size=1), st.integers(0, 9999), top=st.integers(1, 20)
    ),
    st.builds(Watch, st.booleans(), st.integers(1, 20)),
    st.builds(Explained, st.integers(0, 99), st.none(), st.text()),
    st.builds(
        TokenBatch,
        st.integers(0, 9),
        st.text(),
        st.just(()),
        st.just(()),
        st.integers(0),
        st.floats(0, 1e4),
        st.none(),
        st.integers(0),
        st.booleans(),
        st.floats(0, 1e4),
        st.none() | st.builds(StepStages, st.integers(0, 999), stage_rows, candidates),
    ),
)


@settings(max_examples=100, deadline=None)
@given(messages)
def test_explain_and_watch_messages_round_trip_through_one_ascii_line(message) -> None:
    line = to_wire(message)
    assert line.isascii() and line.count("\n") == 1
    assert from_wire(line) == message
    assert json.loads(line)["type"] in ("explain", "watch", "explained", "tokens")
