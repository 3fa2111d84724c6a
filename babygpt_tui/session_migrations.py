"""Session file migrations: each step turns schema version N into N + 1, as plain dict -> dict.

Stored data outlives the code that wrote it, so every change to the session format gets a step
here and `session.SCHEMA_VERSION` goes up by one. Steps run in order on load (the file itself is
rewritten only by the next save). They must never raise on odd input: anything they do not
recognise is passed through unchanged and the loader's type checks report it with its field name.

Version 0 is the draft format written before sessions had a `schema_version`: sampling settings
flat in each turn, the model as one "name@sha256" string, `tok_per_s`/`time`/`created` instead of
`decode_tokens_per_s`/`started_at`/`created_at`, and no sidebar settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


# MIGRATIONS[n] upgrades a version-n document to version n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: v0_to_v1}


def migrate(data: dict[str, Any], version: int, target: int) -> dict[str, Any]:
    """Run the steps from `version` up to `target` (the caller has checked version <= target)."""
    while version < target:
        data = MIGRATIONS[version](data)
        version += 1
    return data
