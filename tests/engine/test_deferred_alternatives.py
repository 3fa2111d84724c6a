"""The engine server's way to a reply's records — alternatives made per batch of tokens
(`engine.alternatives.Deferred`) — gives exactly the records the events' own alternatives give,
whatever the settings, their changes mid-reply, the batch sizes and forced tokens."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.batching import Batcher, record_of
from babygpt_tui.engine import alternatives
from babygpt_tui.engine.alternatives import MAX_PENDING, Deferred

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
    got = make(deferred[:1], 0, True) + make(deferred[1:7], 0, True) + make(deferred[7:], 0, True)
    assert got == want
    assert any(r.alt_ids for r in got) and all(len(r.alt_ids) >= 10 for r in got)


def test_settings_changed_mid_reply_and_forced_tokens_mix_in_one_batch(tiny_generator) -> None:
    kinds = [SETTINGS[i % len(SETTINGS)] for i in range(30)]  # every kind of row, interleaved
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=30, schedule=kinds, forced=(5, 6, 7))
    assert make(deferred, 3, True) == [record_of(e, e.step < 3, True) for e in direct]
    assert not make.__self__._rows and not make.__self__._pending  # every row was sent: none kept


def test_a_ui_that_does_not_acknowledge_cannot_grow_the_rows_kept(tiny_generator) -> None:
    n = 3 * MAX_PENDING + 5
    direct, deferred, make = _both(tiny_generator, SETTINGS[2], n=n)
    deferred_store: Deferred = make.__self__
    assert len(deferred_store._pending) < MAX_PENDING  # made as it went, tensors let go
    assert make(deferred, 0, False) == [record_of(e) for e in direct]


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
