"""Batching without a UI: batch timing, live rates, back-pressure, and the typed per-token records
built from TokenEvents (the engine's, or those the remote client builds from a server's stream)."""

from __future__ import annotations

import math
import threading

import pytest

from babygpt_tui.api import Alternative, GenerationRequest, SamplingParams, TokenEvent
from babygpt_tui.batching import Batcher, record_of
from babygpt_tui.token_record import TokenRecord, rounded


def event(step: int, t: float, text: str = "字", cache_len: int = 0, shifted: bool = False, **kw) -> TokenEvent:
    base = dict(
        id=1,
        text=text,
        logprob=-1.0,
        position=step,
        step=step,
        cache_len=cache_len or step + 1,
        shifted=shifted,
        time=t,
        params=SamplingParams(),
    )
    base.update(kw)
    return TokenEvent(**base)


def alt(token: int, p: float) -> Alternative:
    return Alternative(token, chr(0x4E00 + token), p)


def test_first_token_is_sent_at_once_then_batches_every_30_ms() -> None:
    batcher = Batcher(turn=1, start=99.99, interval=0.03)
    batches = [b for i in range(100) if (b := batcher.add(event(i, 100.0 + i * 0.001)))]
    if (last := batcher.flush()) is not None:
        batches.append(last)
    assert len(batches[0].text) == 1 and batches[0].tokens == 1
    assert abs(batches[0].prefill_ms - 10.0) < 1e-6
    assert 3 <= len(batches) <= 5  # 100 tokens at 1 ms each: one batch per ~30 ms, never per token
    assert "".join(b.text for b in batches) == "字" * 100
    assert batches[-1].tokens == 100


def test_batches_are_capped_at_max_tokens() -> None:
    batcher = Batcher(turn=1, start=0.0, interval=10.0, max_tokens=16)
    batches = [b for i in range(64) if (b := batcher.add(event(i, 1.0 + i * 1e-5)))]
    assert [len(b.text) for b in batches] == [1, 16, 16, 16]


def test_live_rate_and_sparkline_samples_come_from_event_times() -> None:
    batcher = Batcher(turn=1, start=0.0, interval=0.03, sample_every=0.25)
    batches = [b for i in range(1000) if (b := batcher.add(event(i, 1.0 + i * 0.002)))]  # 500 tok/s
    assert all(abs(b.rate - 500) < 1 for b in batches[3:])
    samples = [b.sample for b in batches if b.sample is not None]
    assert len(samples) >= 6 and all(abs(s - 500) < 1 for s in samples)


def test_shift_and_cache_length_are_reported() -> None:
    batcher = Batcher(turn=1, start=0.0, interval=1.0)
    batcher.add(event(0, 1.0, cache_len=16))
    batcher.add(event(1, 1.001, cache_len=9, shifted=True))
    batch = batcher.flush()
    assert batch is not None and batch.shifted and batch.cache_len == 9
    assert batcher.flush() is None


def test_a_slow_ui_gets_bigger_batches_instead_of_a_backlog() -> None:
    ready = threading.Event()
    batcher = Batcher(turn=1, start=0.0, interval=0.03, ready=ready.is_set)
    assert [b for i in range(100) if (b := batcher.add(event(i, 1.0 + i * 0.001)))] == []  # nothing queues
    ready.set()
    batch = batcher.add(event(100, 1.101))
    assert batch is not None and len(batch.text) == 101 and len(batch.records) == 101


def test_settings_are_recorded_where_they_change_and_forced_tokens_are_marked() -> None:
    a, b = SamplingParams(), SamplingParams(temperature=0.2)
    batcher = Batcher(turn=1, start=0.0, interval=10.0, forced=1)
    batches = [batcher.add(event(i, float(i), params=p)) for i, p in enumerate([a, a, b, b])] + [batcher.flush()]
    changes = [c for x in batches if x for c in x.params_changes]
    records = [r for x in batches if x for r in x.records]
    assert changes == [(0, a), (2, b)]
    assert [r.forced for r in records] == [True, False, False, False]


def test_records_hold_raw_and_warped_probabilities_and_rank(tiny_generator) -> None:
    params = SamplingParams(temperature=0.7, top_k=5)
    events = list(tiny_generator.stream(GenerationRequest("明月", params, seed=3, top_alternatives=10)))
    for e in events:
        r = record_of(e)
        assert r.prob == pytest.approx(math.exp(e.logprob), rel=1e-3)
        assert r.warped == pytest.approx(e.warped_prob, rel=1e-3)
        assert r.id == e.id and len(r.alt_ids) == 10  # no repetition penalty: the same ten tokens
        assert list(r.alt_ids) == [a.id for a in e.top_raw] and list(r.alt_texts) == [a.text for a in e.top_raw]
        assert list(r.alt_raw) == [rounded(a.prob) for a in e.top_raw]
        warped_by_id = {a.id: rounded(a.prob) for a in e.top_warped}
        assert list(r.alt_warped) == [warped_by_id.get(i, 0.0) for i in r.alt_ids]
        assert sum(p > 0 for p in r.alt_warped if p is not None) == 5  # top-k 5: the other five were cut
        assert r.rank == next((i + 1 for i, a in enumerate(e.top_raw) if a.id == e.id), 0)


def test_a_token_lifted_into_the_warped_top_is_listed_after_the_raw_ones() -> None:
    raw = (alt(1, 0.6), alt(2, 0.3))
    warped = (alt(3, 0.7), alt(2, 0.3))  # token 1 penalised below the warped top; 3 lifted into it
    r = record_of(event(0, 1.0, id=3, top_raw=raw, top_warped=warped))
    assert r.alternatives[2].raw is None and r.alternatives[2].warped == rounded(0.7) and r.rank == 0
    assert r.alt_warped[0] is None  # not known: outside the warped top, and nothing was cut
    assert r == TokenRecord(
        3,
        r.prob,
        r.warped,
        (1, 2, 3),
        (chr(0x4E01), chr(0x4E02), chr(0x4E03)),
        (rounded(0.6), rounded(0.3), None),
        (None, rounded(0.3), rounded(0.7)),
    )


def test_a_token_of_several_characters_has_its_record_on_each_character_and_counts_once() -> None:
    batcher = Batcher(turn=1, start=0.0, interval=10.0)
    first = batcher.add(event(0, 1.0, text="Hello", top_raw=(Alternative(7, "Hi", 0.2),)))
    batcher.add(event(1, 1.1, text="!", id=2))
    last = batcher.flush()
    assert first is not None and last is not None
    assert first.text == "Hello" and len(first.records) == 5 and len(set(first.records)) == 1
    assert first.records[0].alt_texts == ("Hi",) and first.tokens == 1
    assert last.text == "!" and len(last.records) == 1 and last.tokens == 2
