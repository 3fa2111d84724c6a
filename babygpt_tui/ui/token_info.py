"""What the heat-map and the inspector read from a turn's per-token records (`token_record`):
heat buckets, the inspector's view of one step, the branch note, and what a replay re-forces.
No torch, no textual.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import takewhile

from ..api import SamplingParams
from ..escape import visible_controls
from ..session import BranchRef, Turn
from ..token_record import TokenRecord
from .backend import NO_PROBABILITIES

HEAT_EDGES = (0.01, 0.05, 0.2, 0.5, 0.8)  # bucket i holds probabilities in [EDGES[i-1], EDGES[i])
HEAT_LABELS = ("<1", "1-5", "5-20", "20-50", "50-80", "80+")  # percent, one per bucket


def bucket(prob: float) -> int:
    """The heat-map bucket of a probability: 0 (least likely) to len(HEAT_EDGES) (most likely)."""
    return bisect_right(HEAT_EDGES, prob)


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


def choices(record: TokenRecord, text: str) -> tuple[Choice, ...]:
    """The record's alternatives as rows, plus the chosen token if it is not among them."""
    rows = [Choice(a.text, a.id, a.raw, a.warped, a.id == record.id) for a in record.alternatives]
    if not any(c.chosen for c in rows):
        rows.append(Choice(text, record.id, record.prob, record.warped, True))
    return tuple(rows)


def params_at(turn: Turn, index: int) -> SamplingParams | None:
    """The knobs in force at step `index` of the turn's reply (None: not recorded)."""
    steps = [step for step, _ in turn.params_changes]
    at = bisect_right(steps, index) - 1
    return turn.params_changes[at][1] if at >= 0 else None


def step_at(turn: Turn, index: int) -> TokenStep | None:
    """The inspector's view of character `index`, or None when no per-token data was stored."""
    if not 0 <= index < min(len(turn.records), len(turn.reply)):
        return None
    record, text = turn.records[index], turn.reply[index]
    return TokenStep(
        index,
        text,
        record.prob,
        record.warped,
        record.rank,
        choices(record, text),
        params_at(turn, index),
        record.forced,
    )


def missing_note(turn: Turn | None) -> str:
    """Why a reply has no per-token data, for the inspector."""
    if turn is not None and turn.model.server:
        return NO_PROBABILITIES
    return "no probabilities stored for this reply (written before the heat-map existed, or by another program)"


def warped_note(turn: Turn | None) -> str:
    """A server reports the raw probabilities only: what the inspector shows for the warped one."""
    return "– (server)" if turn is not None and turn.model.server else ""


def branch_note(branch: BranchRef | None) -> str:
    """'↳ branched from turn 2 at character 18 (the model wrote '风')' for a branch, else ''."""
    if branch is None:
        return ""
    return f"↳ branched from turn {branch.turn} at character {branch.at} (the model wrote {shown(branch.was)})"


def forced_prefix(records: list[TokenRecord]) -> tuple[int, ...]:
    """Token ids that were forced at the start of a reply (to replay a branch exactly)."""
    return tuple(r.id for r in takewhile(lambda r: r.forced, records))


def shown(text: str) -> str:
    """A character as the inspector shows it: newlines, spaces and tabs made visible, and any
    other control character from the vocabulary (a file) as its visible picture, never raw."""
    return {"\n": "↵", " ": "␠", "\t": "⇥", "": "∅"}.get(text) or visible_controls(text)
