"""The optional window column of the per-token records: kept when known, absent (as in every file
written before it) or damaged means unknown (0), and records without windows encode as before."""

from __future__ import annotations

from babygpt_tui import token_record
from babygpt_tui.token_record import TokenRecord

RECORDS = [TokenRecord(3, 0.5, 0.25, (3, 4), ("a", "b"), (0.5, 0.2), (0.25, 0.0), window=w) for w in (5, 16, 7)]


def test_windows_round_trip_and_a_file_without_them_reads_as_unknown() -> None:
    data = token_record.encode(RECORDS)
    assert [r.window for r in token_record.decode(data).records] == [5, 16, 7]
    old = {k: v for k, v in data.items() if k != "win"}  # a session written before windows were kept
    decoded = token_record.decode(old)
    assert decoded.dropped == 0 and [r.window for r in decoded.records] == [0, 0, 0]


def test_records_without_windows_write_no_column_and_a_damaged_one_loses_only_the_windows() -> None:
    unknown = [TokenRecord(r.id, r.prob, r.warped, r.alt_ids, r.alt_texts, r.alt_raw, r.alt_warped) for r in RECORDS]
    assert "win" not in token_record.encode(unknown)
    damaged = token_record.encode(RECORDS) | {"win": "not base64!"}
    decoded = token_record.decode(damaged)
    assert decoded.dropped == 0 and decoded.records == token_record.decode(token_record.encode(unknown)).records
    short = token_record.encode(RECORDS) | {"win": token_record.encode(RECORDS[:1])["win"]}
    assert [r.window for r in token_record.decode(short).records] == [5, 0, 0]


def test_a_session_file_keeps_the_windows_and_its_schema_number() -> None:
    import json

    from babygpt_tui.session import SCHEMA_VERSION, Session, Turn, dumps_session, loads_session

    turn = Turn("明月", "abc", "length", records=list(RECORDS))
    raw = dumps_session(Session("s", turns=[turn]))
    assert json.loads(raw)["schema_version"] == SCHEMA_VERSION  # additive: no new schema
    assert [r.window for r in loads_session(raw).turns[0].records] == [5, 16, 7]
