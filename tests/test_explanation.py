"""The explanation's wire form: round trips, and any damaged object is one ExplanationFormatError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.explanation import (
    DIGITS,
    STAGES,
    Candidate,
    Explanation,
    ExplanationFormatError,
    Stage,
    from_wire,
    to_wire,
    top_positions,
)

probs = st.floats(0.0, 1.0).map(lambda p: float(f"{p:.{DIGITS}g}"))
candidates = st.builds(Candidate, st.integers(0, 70_000), st.text(min_size=1, max_size=1), probs)
stages = st.tuples(
    *(
        st.builds(
            Stage,
            st.just(name),
            st.tuples(candidates, candidates),
            st.integers(0, 9_000),
            st.booleans(),
            st.none() | probs,
        )
        for name in STAGES
    )
)


@st.composite
def explanations(draw: st.DrawFn) -> Explanation:
    start = draw(st.integers(0, 300))
    position = start + draw(st.integers(0, 20))
    n_layer, n_head = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    attention = None
    if n_layer:
        row = st.tuples(*[probs] * (position - start + 1))
        attention = tuple(tuple(draw(row) for _ in range(n_head)) for _ in range(n_layer))
    note = "" if attention else draw(st.text(max_size=40))
    return Explanation(position, start, attention, note, draw(stages), draw(candidates), draw(st.none() | candidates))


@settings(max_examples=80, deadline=None)
@given(explanations())
def test_the_wire_form_round_trips_through_json(e: Explanation) -> None:
    assert from_wire(json.loads(json.dumps(to_wire(e)))) == e


def _mutations(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out: list[tuple[tuple[Any, ...], Any]] = [(path, None)]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _mutations(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out += _mutations(v, (*path, i))
    return out


def _replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[path[0]] = _replaced(obj[path[0]], path[1:], value)
    return copy


@settings(max_examples=60, deadline=None)
@given(explanations(), st.data())
def test_a_damaged_object_is_refused_by_name_never_crashes(e: Explanation, data: st.DataObject) -> None:
    wire = to_wire(e)
    path, _ = data.draw(st.sampled_from(_mutations(wire)))
    junk = data.draw(st.sampled_from([None, True, -1, 2.5, "x", [], {}, [[1.5]], {"id": 1}]))
    try:
        got = from_wire(_replaced(wire, path, junk))
    except ExplanationFormatError as err:
        assert str(err)
    else:  # an optional field or a value that still fits: still a well-formed explanation
        assert isinstance(got, Explanation)


def test_weights_are_checked_against_the_window() -> None:
    e = Explanation(5, 3, (((0.5, 0.25, 0.25),),), "", (), Candidate(1, "a", 1.0))
    wire = to_wire(e)
    assert from_wire(wire) == e
    with pytest.raises(ExplanationFormatError, match="position - start \\+ 1"):
        from_wire(wire | {"start": 4})
    with pytest.raises(ExplanationFormatError, match="not a probability"):
        from_wire(wire | {"attention": [[[0.5, 1.5, 0.0]]]})
    with pytest.raises(ExplanationFormatError, match="start 6"):
        from_wire(wire | {"start": 6})


def test_all_heads_is_the_mean_and_the_heaviest_come_first() -> None:
    e = Explanation(2, 1, (((0.25, 0.75), (0.75, 0.25)), ((1.0, 0.0), (0.5, 0.5))), "", (), Candidate(1, "a", 1.0))
    assert e.averaged(0) == (0.5, 0.5) and e.averaged(1) == (0.75, 0.25)
    assert (e.n_layer, e.n_head) == (2, 2)
    assert top_positions((0.1, 0.6, 0.3), 10, 2) == [(11, 0.6), (12, 0.3)]
