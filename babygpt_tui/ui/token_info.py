"""Per-token probabilities of a reply: built from the engine's TokenEvents (in the worker thread),
stored in `Turn.token_info` (plain JSON, saved with the session), read back by the heat-map and
the inspector. No torch, no textual.

One entry per generated token (a reply's character `i` is token `i`: the tokenizer is
character-level):

    [prob, warped_prob, rank, id, alternatives]          or the same plus an `extras` dict
    prob          probability under the raw model distribution, exp(logprob)
    warped_prob   probability in the distribution the token was drawn from (after the warpers)
    rank          1-based rank among the raw top alternatives; 0 if it is not among them
    id            the token's id in the vocabulary of the model in `Turn.model`
    alternatives  one flat list, four items per alternative: text, id, raw prob, warped prob —
                  the raw top alternatives, most likely first, then any token that is only in the
                  warped top (raw prob null; the repetition penalty can lift one there). Warped
                  prob 0 = cut by the warpers; null = not known (outside the warped top).
    extras        {"params": {SamplingParams fields}} where the settings changed from the previous
                  token (always on the first); "forced": true on a token forced by a branch, and
                  "branch": {"turn": n, "at": k, "was": text} on a branch's first token.

Compact on purpose: a flat list instead of one small list per alternative, raw and warped merged
(the warped top mostly repeats the raw one), probabilities rounded to 4 decimals (0.01 %; a tiny
one keeps 4 digits) and number objects shared — about 250 bytes per token in the file and
under 1 KB in memory, so a session of long replies stays light.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..api import SamplingParams, TokenEvent

TOP_ALTERNATIVES = 10  # alternatives the app asks the engine for, per token
STRIDE = 4  # items per alternative in an entry's flat list: text, id, raw prob, warped prob
HEAT_EDGES = (0.01, 0.05, 0.2, 0.5, 0.8)  # bucket i holds probabilities in [EDGES[i-1], EDGES[i])
HEAT_LABELS = ("<1", "1-5", "5-20", "20-50", "50-80", "80+")  # percent, one per bucket
_QUANT = [i / 10_000 for i in range(10_001)]  # the 4-decimal probabilities, one object each
_ids: dict[int, int] = {}  # one object per token id (ints above 256 are not cached by Python)


def bucket(prob: float) -> int:
    """The heat-map bucket of a probability: 0 (least likely) to len(HEAT_EDGES) (most likely)."""
    return bisect_right(HEAT_EDGES, prob)


def _significant(p: float) -> float:
    return float(f"{p:.4g}")  # keeps tiny probabilities (3.1e-07) that fixed decimals would zero


def _rounded(p: float) -> float:
    """4 decimals, shared objects (a table lookup: `round` costs ~1 µs, 20 times per token);
    never 0 for a token that was not cut, as 0 means "cut by the warpers"."""
    i = int(p * 10_000 + 0.5)
    return _QUANT[i] if 0 < i <= 10_000 else (_significant(p) if p > 0 else 0.0)


def token_entry(event: TokenEvent, previous: SamplingParams | None, forced: bool = False) -> list:
    """The token_info entry of one event; `previous` is the params of the token before (or None).
    Runs in the decode loop's thread for every token, so it is kept lean (~15 µs)."""
    warped = {a.id: a.prob for a in event.top_warped}
    cut = 0.0 if 0.0 in warped.values() else None  # fewer survivors than slots: the rest are cut
    alternatives: list[Any] = []
    rank, token, ids = 0, event.id, _ids
    for i, a in enumerate(event.top_raw):
        if a.id == token:
            rank = i + 1
        w = warped.pop(a.id, None)
        alternatives += (a.text, ids.setdefault(a.id, a.id), _rounded(a.prob), cut if w is None else _rounded(w))
    if warped:
        texts = {a.id: a.text for a in event.top_warped}
        alternatives += [
            x for i, p in warped.items() if p > 0 for x in (texts[i], ids.setdefault(i, i), None, _rounded(p))
        ]
    entry: list[Any] = [
        _significant(math.exp(event.logprob)),
        _significant(event.warped_prob),
        rank,
        token,
        alternatives,
    ]
    extras: dict[str, Any] = {}
    if previous is None or (event.params is not previous and event.params != previous):
        extras["params"] = asdict(event.params)
    if forced:
        extras["forced"] = True
    if extras:
        entry.append(extras)
    return entry


def with_extras(entry: list, **extras: Any) -> list:
    """A copy of `entry` with these extras added (e.g. the branch a reply starts with)."""
    return entry[:5] + [{**_extras(entry), **extras}]


def _params(data: Any) -> SamplingParams | None:
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(SamplingParams)}
    try:
        return SamplingParams(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None


def _extras(entry: Any) -> dict:
    ok = isinstance(entry, list) and len(entry) > 5 and isinstance(entry[5], dict)
    return entry[5] if ok else {}


@dataclass(frozen=True)
class Choice:
    """One row of the inspector: an alternative with its raw and warped probability."""

    text: str
    id: int
    raw: float | None  # None: not among the raw top alternatives
    warped: float | None  # None: not among the warped top alternatives (and not known to be cut)
    chosen: bool = False  # the token the model actually wrote

    @property
    def cut(self) -> bool:
        return self.warped == 0.0


@dataclass(frozen=True)
class TokenStep:
    """Everything the inspector shows about reply character `index`."""

    index: int
    text: str
    prob: float
    warped: float
    rank: int  # 0: beyond the top alternatives
    choices: tuple[Choice, ...]
    params: SamplingParams | None  # the settings in force at this step (None: not recorded)
    forced: bool
    branch: dict | None  # on a branch's first token: {"turn", "at", "was"}


def choices(entry: list, text: str) -> tuple[Choice, ...]:
    """The entry's alternatives as rows, plus the chosen token if it is not among them."""
    token_id, flat = entry[3], entry[4]
    rows = [Choice(*flat[i : i + STRIDE], flat[i + 1] == token_id) for i in range(0, len(flat), STRIDE)]
    if not any(c.chosen for c in rows):
        rows.append(Choice(text, token_id, entry[0], entry[1], True))
    return tuple(rows)


def prob_at(info: list, index: int) -> float | None:
    """The raw probability of token `index` (None if not recorded, or not a number: files are
    checked only for being lists, so readers of token_info never trust its shape)."""
    try:
        p = info[index][0]
    except (IndexError, TypeError, KeyError):
        return None
    return float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else None


def step_at(info: list, reply: str, index: int) -> TokenStep | None:
    """The inspector's view of character `index`, or None when no usable per-token data was stored."""
    if not 0 <= index < min(len(info), len(reply)):
        return None
    try:
        return _step(info, reply, index)
    except (IndexError, TypeError, KeyError, ValueError, AttributeError):
        return None  # a hand-edited or damaged entry: show "no data" rather than crash


def _step(info: list, reply: str, index: int) -> TokenStep:
    entry = info[index]
    text = reply[index]
    params = None
    for back in range(index, -1, -1):  # settings are stored only where they changed
        if "params" in (extras := _extras(info[back])):
            params = _params(extras["params"])
            break
    extras = _extras(entry)
    return TokenStep(
        index,
        text,
        entry[0],
        entry[1],
        entry[2],
        choices(entry, text),
        params,
        bool(extras.get("forced")),
        extras.get("branch"),
    )


def branch_note(info: list) -> str:
    """'↳ branched from turn 2 at character 18 (the model wrote '风')' for a branch's turn, else ''."""
    branch = _extras(info[0]).get("branch") if info else None
    if not isinstance(branch, dict):
        return ""
    return (
        f"↳ branched from turn {branch.get('turn', '?')} at character {branch.get('at', '?')} "
        f"(the model wrote {shown(str(branch.get('was', '')))})"
    )


def forced_prefix(info: list) -> tuple[int, ...]:
    """Token ids that were forced at the start of a reply (to replay a branch exactly)."""
    ids = []
    for entry in info:
        if not _extras(entry).get("forced") or not isinstance(entry[3], int):  # _extras: a 6-item list
            break
        ids.append(entry[3])
    return tuple(ids)


def params_schedule(info: list, start: SamplingParams) -> Callable[[], SamplingParams]:
    """A params source that replays the knobs as they were at each step of a stored reply (they
    may have moved mid-reply); `start` before the first recorded change and after the last token."""
    changes = {i: p for i, entry in enumerate(info) if (p := _params(_extras(entry).get("params"))) is not None}
    step, current = 0, start

    def source() -> SamplingParams:
        nonlocal step, current
        current = changes.get(step, current)
        step += 1
        return current

    return source


def shown(text: str) -> str:
    """A character as the inspector shows it: newlines, spaces and tabs made visible."""
    return {"\n": "↵", " ": "␠", "\t": "⇥", "": "∅"}.get(text, text)
