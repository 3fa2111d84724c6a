"""The typed per-token record and its columnar form (the engine's wire and the session file):
round trips, the stored precision, and damaged data that reads back as a prefix, never a crash."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.token_record import (
    TokenRecord,
    decode,
    dequantize,
    dequantize_all,
    encode,
    quantize,
    quantize_all,
    rounded,
)

probs = st.one_of(st.none(), st.just(0.0), st.floats(min_value=1e-16, max_value=1.0))


@st.composite
def records(draw: st.DrawFn, max_id: int = 70_000) -> TokenRecord:
    k = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(0, max_id), min_size=k, max_size=k, unique=True))
    return TokenRecord(
        draw(st.integers(0, max_id)),
        draw(st.floats(min_value=1e-12, max_value=1.0)),
        draw(st.floats(min_value=0.0, max_value=1.0)),
        tuple(ids),
        tuple(chr(0x4E00 + i % 20000) for i in ids),
        tuple(draw(probs) for _ in ids),
        tuple(draw(probs) for _ in ids),
        draw(st.booleans()),
    )


def as_stored(r: TokenRecord) -> TokenRecord:
    return TokenRecord(
        r.id,
        rounded(r.prob) or 0.0,
        rounded(r.warped) or 0.0,
        r.alt_ids,
        r.alt_texts,
        tuple(map(rounded, r.alt_raw)),
        tuple(map(rounded, r.alt_warped)),
        r.forced,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(records(), max_size=20))
def test_records_round_trip_to_the_stored_precision_and_stay_put(rs: list[TokenRecord]) -> None:
    decoded = decode(encode(rs))
    assert decoded.dropped == 0 and decoded.records == [as_stored(r) for r in rs]
    assert decode(encode(decoded.records)).records == decoded.records  # a second save changes nothing


def test_probabilities_keep_four_significant_digits_down_to_tiny_ones() -> None:
    for p in (0.999, 0.5, 0.0451, 3.1e-7, 2e-14):
        assert rounded(p) == pytest.approx(p, rel=2.5e-4)
    assert rounded(0.0) == 0.0 and rounded(None) is None and rounded(1.0) == 1.0
    assert quantize(1e-300) == quantize(1e-200)  # below the range: the smallest code, not "cut"
    assert dequantize(quantize(1e-300)) > 0


@settings(max_examples=300, deadline=None)
@given(probs)
def test_a_value_read_back_quantizes_to_its_own_code(p: float | None) -> None:
    """`quantize` looks a read-back value up instead of taking a log: the same answer either way."""
    code = quantize(p)
    assert quantize(rounded(p)) == code and quantize(dequantize(code)) == code
    if p is not None:
        assert quantize(p) == (0xFFFE if p <= 0 else 0 if p >= 1 else min(int(-math.log(p) * 2048 + 0.5), 0xFFFD))


@settings(max_examples=200, deadline=None)
@given(st.lists(probs, max_size=30), st.lists(st.integers(0, 0xFFFF), max_size=30))
def test_the_batch_forms_are_the_one_value_ones(values: list[float | None], codes: list[int]) -> None:
    """`quantize_all`/`dequantize_all` (the wire's and the engine's batches) look values up where
    they can: the same answers as one call per value, read back before or not."""
    assert quantize_all(values) == [quantize(p) for p in values]
    assert quantize_all([rounded(p) for p in values]) == [quantize(p) for p in values]
    assert dequantize_all(codes) == [dequantize(c) for c in codes]


def test_every_code_reads_back_to_itself() -> None:
    assert all(quantize(dequantize(code)) == code for code in range(0, 0xFFFE))


def test_the_rank_is_the_chosen_tokens_place_among_the_raw_alternatives() -> None:
    r = TokenRecord(7, 0.2, 0.3, (5, 7, 9), ("a", "b", "c"), (0.5, 0.2, None), (0.6, 0.3, 0.1))
    assert r.rank == 2 and [a.id for a in r.alternatives] == [5, 7, 9] and r.alternatives[2].raw is None
    assert TokenRecord(9, 0.1, 0.1, (5, 7, 9), ("a", "b", "c"), (0.5, 0.2, None), (0.6, 0.3, 0.1)).rank == 0


def test_compact_about_ninety_bytes_per_token_with_ten_alternatives() -> None:
    r = TokenRecord(3, 0.4, 0.5, tuple(range(10)), tuple("一二三四五六七八九十"), (0.1,) * 10, (0.1,) * 10)
    import json

    size = len(json.dumps(encode([r] * 1000)))
    assert size < 100 * 1000


@pytest.mark.parametrize(
    "damage, kept",
    [
        (lambda d: d.update(alt_p=d["alt_p"][:-8]), 3),  # the last alternatives cut short
        (lambda d: d.update(id="!!not base64!!"), 0),
        (lambda d: d.update(text=d["text"][:-1]), 0),  # texts do not match their ids
        (lambda d: d.pop("w"), 0),
        (lambda d: d.update(n="four"), 0),
        (lambda d: d.update(forced="all"), 0),
    ],
)
def test_damaged_columns_keep_the_records_that_hold_together_and_say_how_many_were_dropped(damage, kept) -> None:
    rs = [TokenRecord(i, 0.5, 0.5, (1, 2), ("a", "b"), (0.5, 0.25), (0.5, None)) for i in range(4)]
    data = encode(rs)
    damage(data)
    decoded = decode(data)
    dropped = 4 - kept if isinstance(data.get("n"), int) else 1  # no count: "something" was dropped
    assert len(decoded.records) == kept and decoded.dropped == dropped and decoded.problem
    assert decoded.records == [as_stored(r) for r in rs[:kept]]


def test_more_records_than_reply_characters_are_dropped_past_the_reply() -> None:
    rs = [TokenRecord(i, 0.5, 0.5) for i in range(5)]
    decoded = decode(encode(rs), limit=3)
    assert len(decoded.records) == 3 and decoded.dropped == 2 and "3 characters" in decoded.problem


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["n", "id", "p", "w", "k", "alt_id", "text", "forced", "wide"]),
        st.none() | st.integers() | st.text(max_size=12) | st.booleans() | st.lists(st.integers(), max_size=3),
    )
)
def test_any_object_decodes_to_records_or_nothing_never_an_exception(data: dict) -> None:
    decoded = decode(data)
    assert all(isinstance(r, TokenRecord) and not math.isnan(r.prob) for r in decoded.records)
