"""Why the model wrote a character, as plain data: where it looked (attention weights per layer and
head over the characters it saw) and what each sampler stage did to its next-character
distribution. Computed by `engine/explain.py`; read by `babygpt-tui explain` and the inspector.
Torch- and textual-free, with the one converter to and from JSON beside the types (the CLI's
`--json` output and the engine's wire are the same form).

Positions count characters of the text that was explained; the model saw positions
`start .. position` (its context window, after any cache shift) and predicts position + 1.

Wire form (a JSON object):

    position, start   the last character seen, the first one seen
    attention         [layer][head][j]: the weight position `position` gave position `start + j`
                      (each head's weights sum to 1); null for a model without attention
    note              why there is no attention ("" when there is)
    stages            one object per sampler stage, in order (STAGES): stage, on (its knob is
                      set), kept (tokens still possible), actual (the actual next character's
                      probability there, or null), top (the most likely survivors)
    drawn             the token the draw picked (greedy: the most likely)
    actual            the actual next character and its raw probability, or null
    window            the characters seen, positions start .. position ("" when not sent)

A live step of a reply (`StepStages`, sent while the TUI's pipeline view watches a reply) is
{step, stages, drawn} in the same form: the stages of the step and the token the reply took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The sampler's order (engine/sampling.py); "draw" is the final distribution and the pick from it.
STAGES = ("raw", "penalty", "temperature", "top_k", "top_p", "min_p", "draw")
STAGE_TITLES = {
    "raw": "raw",
    "penalty": "repetition penalty",
    "temperature": "temperature",
    "top_k": "top-k",
    "top_p": "top-p",
    "min_p": "min-p",
    "draw": "the draw",
}
DIGITS = 6  # significant digits kept on the wire: a small probability keeps its precision too

Weights = tuple[tuple[tuple[float, ...], ...], ...]  # [layer][head][position - start]


class ExplanationFormatError(ValueError):
    """A wire object that is not an explanation (the message names the field)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    text: str
    prob: float


@dataclass(frozen=True, slots=True)
class Stage:
    """The next-character distribution after one sampler stage."""

    name: str  # one of STAGES
    top: tuple[Candidate, ...]  # most likely first; only tokens still possible (prob > 0)
    kept: int  # how many tokens still have a probability above 0
    on: bool  # the stage's knob is set (an "off" stage passes the distribution through)
    actual: float | None = None  # the actual next character's probability here (None: not known)

    @property
    def title(self) -> str:
        return STAGE_TITLES[self.name]


@dataclass(frozen=True, slots=True)
class Explanation:
    position: int
    start: int
    attention: Weights | None  # None: the model has no attention (see note)
    note: str
    stages: tuple[Stage, ...]
    drawn: Candidate
    actual: Candidate | None = None  # with its raw probability
    window: str = ""  # the characters seen (start .. position), as the model's vocabulary has them

    @property
    def n_layer(self) -> int:
        return len(self.attention) if self.attention is not None else 0

    @property
    def n_head(self) -> int:
        return len(self.attention[0]) if self.attention else 0

    def averaged(self, layer: int) -> tuple[float, ...]:
        """One layer's weights averaged over its heads (the "all heads" view)."""
        assert self.attention is not None
        heads = self.attention[layer]
        return tuple(sum(column) / len(heads) for column in zip(*heads, strict=True))


@dataclass(frozen=True, slots=True)
class StepStages:
    """The sampler's stages at one step of a running reply (no attention: that needs a forward)."""

    step: int  # index among the reply's tokens
    stages: tuple[Stage, ...]
    drawn: Candidate  # the token the reply took at this step


# ---------------------------------------------------------------- the wire


def _round(p: float) -> float:
    return float(f"{p:.{DIGITS}g}")


def _candidate_to_wire(c: Candidate) -> dict[str, Any]:
    return {"id": c.id, "text": c.text, "prob": _round(c.prob)}


def to_wire(e: Explanation) -> dict[str, Any]:
    return {
        "position": e.position,
        "start": e.start,
        "attention": None
        if e.attention is None
        else [[[_round(w) for w in head] for head in layer] for layer in e.attention],
        "note": e.note,
        "stages": _stages_to_wire(e.stages),
        "drawn": _candidate_to_wire(e.drawn),
        "actual": None if e.actual is None else _candidate_to_wire(e.actual),
        "window": e.window,
    }


def _stages_to_wire(stages: Sequence[Stage]) -> list[dict[str, Any]]:
    return [
        {
            "stage": s.name,
            "on": s.on,
            "kept": s.kept,
            "actual": None if s.actual is None else _round(s.actual),
            "top": [_candidate_to_wire(c) for c in s.top],
        }
        for s in stages
    ]


def step_to_wire(s: StepStages) -> dict[str, Any]:
    return {"step": s.step, "stages": _stages_to_wire(s.stages), "drawn": _candidate_to_wire(s.drawn)}


def step_from_wire(obj: Any) -> StepStages:
    """The StepStages of a wire object; ExplanationFormatError naming the first bad field."""
    where = "step"
    return StepStages(
        _count(obj, "step", where),
        _stages(_field(obj, "stages", list, where)),
        _candidate(_field(obj, "drawn", dict, where), "drawn"),
    )


def _field(obj: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, Mapping) or name not in obj:
        raise ExplanationFormatError(f"{where}: missing {name!r}")
    value = obj[name]
    # bool is an int subclass: a true where a count belongs is not a count
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise ExplanationFormatError(f"{where}: {name!r} is {type(value).__name__}, not {_names(kind)}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _kinds(kind))


def _prob(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ExplanationFormatError(f"{where}: {value!r} is not a probability")
    return float(value)


def _count(obj: Any, name: str, where: str) -> int:
    value: int = _field(obj, name, int, where)
    if value < 0:
        raise ExplanationFormatError(f"{where}: {name!r} is {value}, below 0")
    return value


def _candidate(obj: Any, where: str) -> Candidate:
    return Candidate(
        _count(obj, "id", where),
        _field(obj, "text", str, where),
        _prob(_field(obj, "prob", (int, float), where), where),
    )


def _weights(obj: Any) -> Weights:
    if not isinstance(obj, list):
        raise ExplanationFormatError("explanation: 'attention' is not a list of layers")
    layers: list[tuple[tuple[float, ...], ...]] = []
    for i, layer in enumerate(obj):
        if not isinstance(layer, list) or not layer or not all(isinstance(h, list) for h in layer):
            raise ExplanationFormatError(f"attention layer {i}: not a list of heads")
        heads = tuple(tuple(_prob(w, f"attention layer {i}") for w in head) for head in layer)
        layers.append(heads)
    return tuple(layers)


def from_wire(obj: Any) -> Explanation:
    """The Explanation of a wire object; ExplanationFormatError naming the first bad field."""
    where = "explanation"
    position = _count(obj, "position", where)
    start = _count(obj, "start", where)
    if not 0 <= start <= position:
        raise ExplanationFormatError(f"{where}: start {start} is not within 0..position {position}")
    raw_attention = obj.get("attention")
    attention = None if raw_attention is None else _weights(raw_attention)
    if attention is not None and any(len(h) != position - start + 1 for layer in attention for h in layer):
        raise ExplanationFormatError(f"{where}: attention rows must have position - start + 1 weights")
    actual_obj = obj.get("actual")
    window = obj.get("window", "")
    if not isinstance(window, str) or (window and len(window) != position - start + 1):
        raise ExplanationFormatError(f"{where}: 'window' must be the position - start + 1 characters seen")
    return Explanation(
        position,
        start,
        attention,
        _field(obj, "note", str, where),
        _stages(_field(obj, "stages", list, where)),
        _candidate(_field(obj, "drawn", dict, where), "drawn"),
        None if actual_obj is None else _candidate(actual_obj, "actual"),
        window,
    )


def _stages(objs: list[Any]) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    for i, s in enumerate(objs):
        at = f"stage {i}"
        name = _field(s, "stage", str, at)
        if name not in STAGES:
            raise ExplanationFormatError(f"{at}: unknown stage {name!r}")
        actual = s.get("actual")
        stages.append(
            Stage(
                name,
                tuple(_candidate(c, at) for c in _field(s, "top", list, at)),
                _count(s, "kept", at),
                _field(s, "on", bool, at),
                None if actual is None else _prob(actual, at),
            )
        )
    return tuple(stages)


def top_positions(weights: Sequence[float], start: int, n: int) -> list[tuple[int, float]]:
    """The n positions a row of weights gave most, heaviest first: (position, weight)."""
    order = sorted(range(len(weights)), key=lambda j: (-weights[j], j))
    return [(start + j, weights[j]) for j in order[:n]]
