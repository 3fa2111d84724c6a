"""The engine server's way to a reply's records — alternatives made per batch of tokens
(`engine.alternatives.Deferred`) — gives exactly the records the events' own alternatives give,
whatever the settings, their changes mid-reply, the batch sizes and forced tokens."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.batching import Batcher, record_of
from babygpt_tui.engine import alternatives
from babygpt_tui.engine.alternatives import MAX_PENDING, Deferred, quantize_codes
from babygpt_tui.token_record import Columns

SETTINGS = [
    SamplingParams(temperature=0.0),  # greedy
    SamplingParams(temperature=0.0, repetition_penalty=2.0),  # greedy, its argmax moved by the penalty
    SamplingParams(temperature=0.8),  # the TUI's default
    SamplingParams(temperature=1.2, top_k=3),  # fewer survivors than alternatives: cut ones
    SamplingParams(temperature=0.7, top_p=0.5, min_p=0.1),
    SamplingParams(temperature=0.9, repetition_penalty=1.5),  # the warped order differs: a second topk
]


def _both(gen, params, n=40, top=10, schedule=None, forced=()):
    """The same reply twice (same seed): with per-token alternatives, then deferred."""

    def source(run_params):
        steps = iter(schedule or ())
        return lambda: next(steps, run_params)

    request = GenerationRequest("明月", replace(params, max_new_tokens=n), seed=3, top_alternatives=top)
    request = replace(request, forced_prefix=forced)
    direct = list(gen.stream(request, threading.Event(), source(request.params)))
    run = gen.stream(request, threading.Event(), source(request.params))
    make = run.defer_alternatives()
    deferred = list(run)
    assert [e.id for e in deferred] == [e.id for e in direct]  # deferring does not touch sampling
    assert all(not e.top_raw and not e.top_warped for e in deferred)
    return direct, deferred, make


@pytest.mark.parametrize("params", SETTINGS)
def test_deferred_records_are_the_events_own(tiny_generator, params) -> None:
    direct, deferred, make = _both(tiny_generator, params)
    want = [record_of(e, False, True) for e in direct]
    parts = [make(deferred[:1], 0, True), make(deferred[1:7], 0, True), make(deferred[7:], 0, True)]
    got = [r for part in parts for r in part]
    assert got == want
    assert any(r.alt_ids for r in got) and all(len(r.alt_ids) >= 10 for r in got)
    # columnar straight from the tensors, unless a row needs a second topk (the penalty) — or a
    # greedy argmax the penalty moved out of the raw top
    if params.temperature > 0:
        columnar = params.repetition_penalty == 1.0
        assert all(isinstance(part, Columns) for part in parts) == columnar
        assert any(isinstance(part, Columns) for part in parts) == columnar


def test_settings_changed_mid_reply_and_forced_tokens_mix_in_one_batch(tiny_generator) -> None:
    kinds = [SETTINGS[i % len(SETTINGS)] for i in range(30)]  # every kind of row, interleaved
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=30, schedule=kinds, forced=(5, 6, 7))
    made = make(deferred, 3, True)  # rows of a second topk among them: records one by one
    assert not isinstance(made, Columns) and list(made) == [record_of(e, e.step < 3, True) for e in direct]
    assert not make.__self__._rows and not make.__self__._pending  # every row was sent: none kept


def test_a_ui_that_does_not_acknowledge_cannot_grow_the_rows_kept(tiny_generator) -> None:
    n = 3 * MAX_PENDING + 5
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=n)
    deferred_store: Deferred = make.__self__
    assert len(deferred_store._pending) < MAX_PENDING  # made as it went, tensors let go
    assert list(make(deferred, 0, False)) == [record_of(e) for e in direct]


def test_the_batcher_makes_a_batchs_records_when_it_sends_it(tiny_generator) -> None:
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=50)
    calls: list[int] = []

    def counted(events, forced, windows):
        calls.append(len(events))
        return make(events, forced, windows)

    batcher = Batcher(1, 0.0, interval=0.0, max_tokens=8, ready=lambda: len(calls) % 2 == 0, make_records=counted)
    batches = [b for e in deferred if (b := batcher.add(e)) is not None]
    batches += [b] if (b := batcher.flush()) is not None else []
    assert sum(calls) == 50 and len(calls) == len(batches)  # once per batch, for its tokens
    assert [r for b in batches for r in b.records] == [record_of(e) for e in direct]


def test_one_steps_alternatives_are_the_batchs_first_row(tiny_generator) -> None:
    """The events' own alternatives (serve's logprobs, `generate --json`) and the engine's batches
    come from the one `top_rows`; unrounded, they are the model's probabilities."""
    tok = tiny_generator.tokenizer
    from babygpt_tui.engine.sampling import pick

    logits = torch.randn(tok.vocab_size, generator=torch.Generator().manual_seed(1)) * 3
    chosen = pick(logits, SETTINGS[2], [], torch.Generator().manual_seed(0), want_probs=True)
    raw, warped = alternatives.alternatives(chosen, 5, tok.chars, True)
    probs = torch.softmax(logits, 0)
    assert [a.id for a in raw] == torch.topk(probs, 5).indices.tolist()
    assert [a.prob for a in raw] == pytest.approx(torch.topk(probs, 5).values.tolist(), rel=1e-5)
    assert [a.prob for a in warped] == pytest.approx(chosen.probs[[a.id for a in raw]].tolist())


def test_columnar_batches_cross_the_wire_as_the_records_they_are(tiny_generator) -> None:
    """Forced tokens and windows included; what the UI reads is what `record_of` gives."""
    from babygpt_tui.api import from_wire, to_wire

    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=20, forced=(5, 6))
    batcher = Batcher(4, 0.0, interval=1.0, forced=3, windows=True, make_records=make)
    first = batcher.add(deferred[0])  # a reply's first token goes out at once
    for e in deferred[1:]:
        batcher.add(e)
    batch = batcher.flush()
    assert isinstance(first.records, Columns) and isinstance(batch.records, Columns)
    assert [*first.records, *batch.records] == [record_of(e, e.step < 3, True) for e in direct]
    sent = from_wire(to_wire(batch))
    assert sent.records == batch.records and sent.records[1].forced and not sent.records[2].forced
    assert sent.records[3].window == direct[4].cache_len > 0


@given(st.lists(st.floats(0.0, 1.0) | st.just(float("nan")), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_codes_quantized_on_a_tensor_are_the_records_codes(values) -> None:
    from babygpt_tui.token_record import quantize

    for dtype in (torch.float32, torch.float64):
        p = torch.tensor(values, dtype=dtype)
        assert quantize_codes(p).tolist() == [quantize(v) for v in p.tolist()]


def test_codes_quantized_on_a_tensor_agree_over_a_model_like_range() -> None:
    from babygpt_tui.token_record import CUT, TINY, quantize

    logprobs = -torch.rand(200_000, generator=torch.Generator().manual_seed(0)) * 40
    p = torch.cat([logprobs.exp(), torch.tensor([0.0, 1.0, 1e-30, 0.5])])
    codes = quantize_codes(p).tolist()
    assert codes == [quantize(v) for v in p.tolist()]
    assert codes[-4:-2] == [CUT, 0] and codes[-2] == TINY


def test_greedy_and_sampled_rows_mix_in_one_columnar_batch(tiny_generator) -> None:
    kinds = [SETTINGS[i % 4 if i % 4 != 1 else 0] for i in range(24)]  # greedy and sampled, no penalty
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=24, schedule=kinds)
    made = make(deferred, 0, True)
    assert isinstance(made, Columns) and list(made) == [record_of(e, False, True) for e in direct]


def test_a_greedy_argmax_the_penalty_moved_out_of_the_raw_top_has_its_own_row(tiny_generator) -> None:
    """Its record has the argmax after the raw top (raw probability unknown): not columnar."""
    from babygpt_tui.api import TokenEvent
    from babygpt_tui.engine.sampling import pick

    tok = tiny_generator.tokenizer
    params = SamplingParams(temperature=0.0, repetition_penalty=50.0)
    logits = torch.linspace(5.0, 0.0, tok.vocab_size)  # token 0 the likeliest, then 1, 2, …
    chosen = pick(logits, params, list(range(12)), None, want_probs=True)
    assert chosen.best >= 10  # the top ten were all penalised below it
    event = TokenEvent(chosen.id, tok.chars[chosen.id], chosen.logprob, 12, 0, 13, False, 0.0, params,
                       *alternatives.alternatives(chosen, 10, tok.chars, False), chosen.warped_prob)  # fmt: skip
    deferred = Deferred(10, tok.chars)
    deferred.add(0, chosen, False)
    made = deferred.records([replace(event, top_raw=(), top_warped=())], 0, True)
    assert not isinstance(made, Columns) and list(made) == [record_of(event, False, True)]
    assert made[0].alt_ids[-1] == chosen.best and made[0].alt_raw[-1] is None and len(made[0].alt_ids) == 11


def test_a_failure_making_the_last_batchs_records_ends_the_reply_not_the_engine(
    tiny_generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last batch is sent after the decode loop (and its guard): a bug there is the reply's
    error, and the engine serves the next request."""
    from babygpt_tui.api import Finished, Generate, Load, Loaded, from_wire, to_wire
    from tests.plugins.pilot import InProcessEngine

    made = Deferred.records
    calls: list[int] = []

    def fails_after_the_first(self, events, forced, windows):
        calls.append(len(events))
        if len(calls) > 1:
            raise RuntimeError("records broke")
        return made(self, events, forced, windows)

    monkeypatch.setattr(Deferred, "records", fails_after_the_first)
    engine = InProcessEngine(lambda _: tiny_generator)
    lines = engine.lines()

    def until(kind):
        while not isinstance(message := from_wire(next(lines)), kind):
            pass
        return message

    try:
        engine.send(to_wire(Load("tiny")))
        until(Loaded)
        request = GenerationRequest("明", SamplingParams(max_new_tokens=4), seed=1, top_alternatives=10)
        engine.send(to_wire(Generate(1, request)))
        failed = until(Finished)
        assert "records broke" in failed.error and len(calls) == 2  # the first token's, then the rest's
        engine.send(to_wire(Generate(2, replace(request, top_alternatives=0))))
        finished = until(Finished)
        assert finished.turn == 2 and not finished.error and finished.stats.tokens == 4
    finally:
        engine.close()
