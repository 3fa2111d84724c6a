"""Session file migrations: each step turns schema version N into N + 1, as plain dict -> dict.

Stored data outlives the code that wrote it, so every change to the session format gets a step
here and `session.SCHEMA_VERSION` goes up by one. Steps run in order on load (the file itself is
rewritten only by the next save). They must never raise on odd input: anything they do not
recognise is passed through unchanged and the loader's type checks report it with its field name.

Version 0 is the draft format written before sessions had a `schema_version`: sampling settings
flat in each turn, the model as one "name@sha256" string, `tok_per_s`/`time`/`created` instead of
`decode_tokens_per_s`/`started_at`/`created_at`, and no sidebar settings.

Version 1 stored per-token data as positional lists, one per token, in `token_info`:
    [prob, warped_prob, rank, id, [text, id, raw p, warped p, ...], optional extras]
with extras {"params": {...}} where the knobs changed, "forced": true, and on the first token
"branch": {"turn", "at", "was"}. Version 2 keeps the same facts typed and columnar (`records`,
`params_changes`, `branch`; see token_record.py). Entries are converted up to the first one that
is not of that shape; the count written is the full one, so the loader says how many were dropped.

Version 3 keeps every reply of a turn: `alternatives` (the other replies, Ctrl+R no longer drops
the one it replaces) and `alternative` (where the shown reply stands among them); a version-2
turn has just the one reply. (v3 also adds the optional `stop` and `skipped` lists.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import token_record
from .token_record import TokenRecord

V0_SAMPLING_KEYS = (
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repetition_penalty",
    "repetition_window",
    "max_new_tokens",
)


def _v0_model(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name, _, sha = value.rpartition("@") if "@" in value else (value, "", "")
    return {"name": name, "sha256": sha}


def _v0_turn(turn: Any) -> Any:
    if not isinstance(turn, dict):
        return turn
    turn = dict(turn)
    if "params" not in turn:
        turn["params"] = {k: turn.pop(k) for k in V0_SAMPLING_KEYS if k in turn}
    if "model" in turn:
        turn["model"] = _v0_model(turn["model"])
    for old, new in (("tok_per_s", "decode_tokens_per_s"), ("time", "started_at")):
        if old in turn and new not in turn:
            turn[new] = turn.pop(old)
    return turn


def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "created" in data and "created_at" not in data:
        data["created_at"] = data.pop("created")
    turns = data.get("turns")
    if isinstance(turns, list):
        data["turns"] = [_v0_turn(t) for t in turns]
        # v0 had no sidebar settings: start from those of the last turn, as the app then did.
        last = data["turns"][-1] if data["turns"] else None
        if "params" not in data and isinstance(last, dict) and isinstance(last.get("params"), dict):
            data["params"] = dict(last["params"])
    data["schema_version"] = 1
    return data


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _v1_record(entry: Any) -> tuple[TokenRecord, dict[str, Any]] | None:
    """A v1 entry as a record and its extras; None if it is not a well-formed entry."""
    if not isinstance(entry, list) or len(entry) not in (5, 6):
        return None
    prob, warped, _rank, token, flat = entry[:5]
    extras = entry[5] if len(entry) == 6 else {}
    ok = _number(prob) and _number(warped) and isinstance(token, int) and not isinstance(token, bool)
    if not ok or not isinstance(flat, list) or len(flat) % 4 or not isinstance(extras, dict):
        return None
    texts, ids, raw, warp = flat[0::4], flat[1::4], flat[2::4], flat[3::4]
    if not all(isinstance(t, str) for t in texts) or not all(isinstance(i, int) and 0 <= i < 2**32 for i in ids):
        return None
    if not all(p is None or _number(p) for p in raw + warp) or not 0 <= token < 2**32:
        return None
    forced = bool(extras.get("forced"))
    return TokenRecord(token, prob, warped, tuple(ids), tuple(texts), tuple(raw), tuple(warp), forced), extras


def _v1_turn(turn: Any) -> Any:
    if not isinstance(turn, dict) or "token_info" not in turn:
        return turn
    turn = dict(turn)
    info = turn.pop("token_info")
    if not isinstance(info, list) or not info:
        return turn
    records, changes = [], []
    for step, entry in enumerate(info):
        parsed = _v1_record(entry)
        if parsed is None:
            break
        record, extras = parsed
        records.append(record)
        if isinstance(extras.get("params"), dict):
            changes.append([step, extras["params"]])
        if step == 0 and isinstance(extras.get("branch"), dict):
            turn["branch"] = extras["branch"]
    turn["records"] = {**token_record.encode(records), "n": len(info)}
    turn["params_changes"] = changes
    return turn


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("turns"), list):
        data["turns"] = [_v1_turn(t) for t in data["turns"]]
    data["schema_version"] = 2
    return data


def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("turns"), list):
        data["turns"] = [
            {"alternatives": [], "alternative": 0, **t} if isinstance(t, dict) else t for t in data["turns"]
        ]
    data["schema_version"] = 3
    return data


# MIGRATIONS[n] upgrades a version-n document to version n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: v0_to_v1, 1: v1_to_v2, 2: v2_to_v3}


def migrate(data: dict[str, Any], version: int, target: int) -> dict[str, Any]:
    """Run the steps from `version` up to `target` (the caller has checked version <= target)."""
    while version < target:
        data = MIGRATIONS[version](data)
        version += 1
    return data
