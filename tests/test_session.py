"""The session file format: every field round-trips, bad files are SessionErrors, old ones migrate."""

from __future__ import annotations

import contextlib
import json
from dataclasses import fields, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui.api import SamplingParams
from babygpt_tui.errors import UserError
from babygpt_tui.session import (
    SCHEMA_VERSION,
    BranchRef,
    ModelRef,
    Session,
    SessionError,
    Turn,
    dumps_session,
    loads_session,
    session_from_dict,
    session_to_dict,
)
from babygpt_tui.session_export import export_json, export_markdown, export_session
from babygpt_tui.token_record import TokenRecord, rounded


def full_session() -> Session:
    """A session where every field (of Session, Turn, ModelRef, SamplingParams) differs from its default."""
    params = SamplingParams(
        temperature=1.3, top_k=7, top_p=0.9, min_p=0.05, repetition_penalty=1.2, repetition_window=32, max_new_tokens=99
    )
    turn = Turn(
        prompt="明月几时有",
        reply="把酒问青天。\n不知天上宫阙，",
        stop_reason="stopped",
        params=params,
        seed=123456789,
        context_mode="continue",
        model=ModelRef("songci-small.safetensors", "0123456789abcdef" * 4, "http://127.0.0.1:8000"),
        tokens=11,
        decode_tokens_per_s=321.5,
        prefill_ms=2.25,
        started_at="2025-01-02T03:04:05.678+00:00",
        finished_at="2025-01-02T03:04:06.000+00:00",
        error="cancelled by user",
        records=[
            TokenRecord(
                5,
                rounded(0.5) or 0,
                rounded(0.9) or 0,
                (5, 7),
                ("把", "问"),
                (rounded(0.5), rounded(0.25)),
                (rounded(0.9), None),
                True,
            ),
            TokenRecord(9, rounded(0.125) or 0, 0.0),
        ],
        params_changes=[(0, params), (1, replace(params, temperature=0.0))],
        branch=BranchRef(1, 3, "风"),
        stop=("\n\n", "END"),
        skipped=("x",),
        alternatives=[Turn(prompt="明月几时有", reply="别的回答", seed=5, stop_reason="stop")],
        alternative=1,
    )
    return Session(
        name="宋词 / drafts ..",
        turns=[turn, Turn(prompt="")],
        params=replace(params, top_k=3),
        seed_mode="fixed",
        fixed_seed=42,
        context_mode="continue",
        created_at="2025-01-01T00:00:00.000+00:00",
        updated_at="2025-01-03T00:00:00.000+00:00",
        schema_version=SCHEMA_VERSION,
        model=ModelRef("m.pth", "ab"),
    )


def test_full_session_really_sets_every_field() -> None:
    # Guards the round-trip test: a field added later without a value here fails loudly.
    session = full_session()
    for obj, default in (
        (session, Session(name="")),
        (session.turns[0], Turn(prompt="")),
        (session.turns[0].params, SamplingParams()),
        (session.turns[0].model, ModelRef("")),
    ):
        for f in fields(obj):
            if f.name not in ("schema_version", "notes"):
                assert getattr(obj, f.name) != getattr(default, f.name), f"{type(obj).__name__}.{f.name}"


def test_every_field_round_trips() -> None:
    session = full_session()
    assert loads_session(dumps_session(session)) == session


def test_file_holds_every_field_and_plain_json() -> None:
    data = json.loads(dumps_session(full_session()))
    assert set(data) == {f.name for f in fields(Session)} - {"notes"}
    assert set(data["turns"][0]) == {f.name for f in fields(Turn)}
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["turns"][0]["params"] == {
        f.name: getattr(full_session().turns[0].params, f.name) for f in fields(SamplingParams)
    }
    assert data["turns"][0]["records"]["n"] == 2 and data["turns"][1]["records"] is None
    assert data["turns"][0]["branch"] == {"turn": 1, "at": 3, "was": "风"}


def test_per_token_data_is_a_few_lines_per_turn() -> None:
    lines = dumps_session(full_session()).decode().splitlines()
    assert sum('"alt_p"' in line for line in lines) == 1  # one line per column, not one per number


def test_lone_surrogate_still_saves_and_round_trips() -> None:
    session = Session(name="x\ud800y", turns=[Turn(prompt="\udcff")])
    assert loads_session(dumps_session(session)) == session


def test_session_error_is_a_user_error() -> None:
    assert issubclass(SessionError, UserError)


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b'{"name": "x", "turns": [', "not valid JSON"),  # truncated
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "not a session file (expected a JSON object"),
        (b"{}", "name: missing"),
        (b'{"name": 5}', "name: expected a string, got 5"),
        (b'{"name": "x", "turns": {}}', "turns: expected a list"),
        (b'{"name": "x", "turns": [7]}', "turns[0]: expected a JSON object, got 7"),
        (b'{"name": "x", "turns": [{}]}', "turns[0].prompt: missing"),
        (b'{"name": "x", "turns": [{"prompt": "p", "stop_reason": "done"}]}', "turns[0].stop_reason: expected one of"),
        (b'{"name": "x", "turns": [{"prompt": "p", "seed": -1}]}', "turns[0].seed"),
        (b'{"name": "x", "turns": [{"prompt": "p", "tokens": true}]}', "turns[0].tokens"),
        (
            b'{"name": "x", "turns": [{"prompt": "p", "params": {"top_p": 2}}]}',
            "turns[0].params: top_p = 2.0 is out of range",
        ),
        (b'{"name": "x", "params": {"temperature": "hot"}}', "params.temperature: expected a number"),
        (b'{"name": "x", "params": {"top_k": 1e999}}', "params.top_k"),
        (b'{"name": "x", "seed_mode": "sometimes"}', "seed_mode: expected one of random, fixed"),
        (b'{"name": "x", "model": "m"}', "model: expected a JSON object"),
        (b'{"name": "x", "schema_version": "1"}', "schema_version: expected a whole number"),
        (b'{"name": "x", "schema_version": true}', "schema_version: expected a whole number"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"name": "x", "fixed_seed": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_bad_files_are_session_errors_naming_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(SessionError) as e:
        loads_session(raw, origin="s.json")
    assert str(e.value).startswith("s.json: ") and reason in str(e.value), str(e.value)


def test_newer_schema_is_refused_with_a_clear_message() -> None:
    raw = json.dumps({"schema_version": SCHEMA_VERSION + 1, "name": "future", "turns": "whatever"})
    with pytest.raises(SessionError, match=r"written by a newer babygpt-tui .*upgrade babygpt-tui"):
        loads_session(raw, origin="future.json")


V0_FILE = {  # the draft format: no schema_version, flat sampling settings, model as one string
    "name": "old poems",
    "created": "2024-12-01T10:00:00+00:00",
    "turns": [
        {
            "prompt": "春",
            "reply": "眠不觉晓",
            "temperature": 0.5,
            "top_k": 4,
            "max_new_tokens": 50,
            "seed": 3,
            "model": "songci.safetensors@abc123",
            "stop_reason": "length",
            "tokens": 4,
            "tok_per_s": 99.0,
            "time": "2024-12-01T10:00:01+00:00",
        },
        {"prompt": "", "model": "plain.pth"},
    ],
}


def test_version_0_file_is_migrated_on_load() -> None:
    session = loads_session(json.dumps(V0_FILE), origin="old.json")
    assert session.schema_version == SCHEMA_VERSION and session.name == "old poems"
    assert session.created_at == "2024-12-01T10:00:00+00:00"
    first = session.turns[0]
    assert first.params == SamplingParams(temperature=0.5, top_k=4, max_new_tokens=50)
    assert first.model == ModelRef("songci.safetensors", "abc123") and first.seed == 3
    assert first.decode_tokens_per_s == 99.0 and first.started_at == "2024-12-01T10:00:01+00:00"
    assert session.turns[1].model == ModelRef("plain.pth")
    assert session.params == SamplingParams()  # taken from the last turn, which had no settings
    assert json.loads(dumps_session(session))["schema_version"] == SCHEMA_VERSION


V2_FILE = {  # as babygpt-tui wrote it before turns kept their alternatives
    "schema_version": 2,
    "name": "v2 poems",
    "params": {"temperature": 0.7},
    "turns": [{"prompt": "明月", "reply": "几时有", "stop_reason": "length", "seed": 4, "records": None}],
}


def test_version_2_file_is_migrated_to_turns_with_one_reply_each() -> None:
    session = loads_session(json.dumps(V2_FILE), origin="v2.json")
    (turn,) = session.turns
    assert (turn.prompt, turn.reply, turn.seed) == ("明月", "几时有", 4)
    assert turn.alternatives == [] and turn.alternative == 0 and turn.versions == [turn]
    data = json.loads(dumps_session(session))
    assert data["schema_version"] == SCHEMA_VERSION == 3 and data["turns"][0]["alternatives"] == []


def test_alternatives_round_trip_and_a_bad_index_names_the_field() -> None:
    session = full_session()
    turn = session.turns[0]
    assert [v.reply for v in turn.versions] == ["别的回答", turn.reply]
    data = json.loads(dumps_session(session))
    assert "alternatives" not in data["turns"][0]["alternatives"][0]  # one level only
    data["turns"][0]["alternative"] = 5
    with pytest.raises(SessionError, match=r"turns\[0\]\.alternative: 5 is past its 1 alternatives"):
        session_from_dict(data)


def test_showing_another_version_keeps_them_all_in_order() -> None:
    a, b, c = Turn("p", reply="a"), Turn("p", reply="b"), Turn("p", reply="c")
    c.alternatives, c.alternative = [a, b], 2
    shown = c.shown_as(0)
    assert shown is a and [v.reply for v in shown.versions] == ["a", "b", "c"] and c.alternatives == []
    assert [v.reply for v in shown.shown_as(1).versions] == ["a", "b", "c"]


def test_version_0_with_a_wrong_shape_is_still_a_session_error() -> None:
    with pytest.raises(SessionError, match=r"turns\[0\]: expected a JSON object"):
        session_from_dict({"name": "x", "turns": ["text"]}, origin="o")


def test_missing_optional_fields_take_defaults() -> None:
    session = loads_session('{"schema_version": 1, "name": "bare", "turns": [{"prompt": "p"}]}')
    assert session == Session(name="bare", turns=[Turn(prompt="p")])


# ----- export ------------------------------------------------------------------------------


def test_markdown_export_has_title_turns_and_settings_table() -> None:
    md = export_markdown(full_session())
    assert md.startswith("# 宋词 / drafts ..\n")
    assert "```text\n把酒问青天。\n不知天上宫阙，\n```" in md  # line breaks of the poem survive
    assert (
        "| temperature | top-k | top-p | min-p | repetition penalty | max tokens | seed | model | stop reason |"
        " tokens | tok/s |" in md
    )
    assert (
        "| 1.3 | 7 | 0.9 | 0.05 | 1.2 | 99 | 123456789 | songci-small.safetensors on http://127.0.0.1:8000 "
        "| stopped | 11 | 321.5 |" in md
    )
    assert "> **Error:** cancelled by user" in md
    assert "_(empty: the model started a new poem)_" in md


def test_markdown_export_cannot_be_broken_by_the_text() -> None:
    session = Session(
        name="# *bold* | x\nsecond", turns=[Turn(prompt="a ``` b ```` c", reply="r", model=ModelRef("a|b"))]
    )
    md = export_markdown(session)
    assert md.startswith("# \\# \\*bold\\* \\| x second\n")
    assert "`````text\na ``` b ```` c\n`````" in md
    assert "a\\|b" in md


def test_json_export_is_the_session_file_format() -> None:
    session = full_session()
    assert loads_session(export_json(session)) == session
    assert export_session(session, "json") == export_json(session)
    assert export_session(session, "md") == export_markdown(session)


# ----- fuzzing: any bytes or JSON give a Session or a SessionError --------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(SessionError):
        loads_session(raw)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_random_json(value: object) -> None:
    with contextlib.suppress(SessionError):
        loads_session(json.dumps(value))


def _paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_valid_files_load_or_fail_cleanly_and_what_loads_saves(data: st.DataObject) -> None:
    doc = session_to_dict(full_session())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        target = doc
        for step in path[:-1]:
            target = target[step]
        if data.draw(st.booleans()) and isinstance(target, dict):
            del target[path[-1]]
        else:
            target[path[-1]] = data.draw(json_values)
        if not isinstance(doc, dict):
            break
    try:
        session = loads_session(json.dumps(doc))
    except SessionError:
        return
    saved = dumps_session(session)  # anything accepted can be saved and reloaded unchanged
    assert dumps_session(loads_session(saved)) == saved  # (bytes, not ==, so a NaN compares equal)


def test_a_version_1_file_with_positional_per_token_lists_migrates_and_keeps_the_valid_entries() -> None:
    extras = {"params": {"temperature": 0.3}, "forced": True, "branch": {"turn": 1, "at": 2, "was": "x"}}
    v1 = {
        "schema_version": 1,
        "name": "old",
        "turns": [
            {
                "prompt": "明",
                "reply": "月几时",
                "token_info": [
                    [0.5, 0.6, 1, 5, ["月", 5, 0.5, 0.6, "风", 6, 0.3, 0.0], extras],
                    [0.25, 0.25, 0, 9, []],
                    ["junk"],
                ],
            }
        ],
    }
    session = session_from_dict(v1)
    turn = session.turns[0]
    assert len(turn.records) == 2 and turn.records[0].alt_texts == ("月", "风") and turn.records[0].forced
    assert turn.records[0].alt_warped[1] == 0.0 and turn.records[0].rank == 1 and turn.records[1].rank == 0
    assert turn.params_changes == [(0, SamplingParams(temperature=0.3))]
    assert turn.branch == BranchRef(1, 2, "x") and turn.reply == "月几时"
    assert len(session.notes) == 1 and "1 of 3" in session.notes[0] and "turns[0]" in session.notes[0]
    saved = json.loads(dumps_session(session))
    assert saved["schema_version"] == SCHEMA_VERSION and "token_info" not in saved["turns"][0]
    assert loads_session(dumps_session(session)).notes == []  # what was dropped is not dropped again


def test_a_version_1_file_is_much_smaller_as_version_2() -> None:
    entry = [0.4, 0.5, 1, 1000, [x for i in range(10) for x in ("字", 1000 + i, 0.1234, 0.2345)]]
    v1 = {
        "schema_version": 1,
        "name": "big",
        "turns": [{"prompt": "", "reply": "字" * 500, "token_info": [entry] * 500}],
    }
    assert len(dumps_session(session_from_dict(v1))) * 2 < len(json.dumps(v1, ensure_ascii=False))


def test_a_model_on_a_server_is_its_url_and_name_and_older_files_have_none() -> None:
    session = Session(name="s", turns=[Turn(prompt="p", model=ModelRef("tiny", server="http://127.0.0.1:8000"))])
    data = json.loads(dumps_session(session))
    assert data["turns"][0]["model"] == {"name": "tiny", "sha256": "", "server": "http://127.0.0.1:8000"}
    assert loads_session(json.dumps(data)).turns[0].model.short == "tiny on http://127.0.0.1:8000"
    del data["turns"][0]["model"]["server"]  # as written before servers existed
    assert loads_session(json.dumps(data)).turns[0].model == ModelRef("tiny")
