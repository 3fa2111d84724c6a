"""The sampler one stage at a time, for showing: the next-character distribution after the
repetition penalty, temperature, top-k, top-p and min-p, then the draw.

Built only from sampling.py's public functions, in `warp`'s order; the temperature (with its
greedy case) is `warp` itself with every other knob off, and the draw is `sample`. So the last
stage is exactly the distribution the decode loop draws from (a test pins it against `warp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from ..api import SamplingParams
from ..explanation import Candidate, Stage
from .sampling import is_greedy, min_p, repetition_penalty, sample, top_k, top_p, warp

Rows = list[tuple[str, bool, torch.Tensor]]


def stage_logits(logits: torch.Tensor, params: SamplingParams, history: list[int]) -> Rows:
    """(stage, knob set, logits after it) for raw ... min_p; cut tokens are -inf."""
    x = logits.float()
    rows: Rows = [("raw", True, x)]
    penalty_on = params.repetition_penalty != 1.0 and params.repetition_window > 0
    x = repetition_penalty(x, history, params.repetition_penalty, params.repetition_window)
    rows.append(("penalty", penalty_on, x))
    only_temperature = replace(params, repetition_penalty=1.0, top_k=0, top_p=1.0, min_p=0.0)
    x = warp(x, only_temperature, [])
    rows.append(("temperature", params.temperature != 1.0, x))
    # warp stops after the greedy argmax: the later knobs never apply to a greedy step
    sampled = not is_greedy(params)
    on = sampled and params.top_k > 0
    x = top_k(x, params.top_k) if on else x
    rows.append(("top_k", on, x))
    on = sampled and params.top_p < 1.0
    x = top_p(x, params.top_p) if on else x
    rows.append(("top_p", on, x))
    on = sampled and params.min_p > 0.0
    x = min_p(x, params.min_p) if on else x
    rows.append(("min_p", on, x))
    return rows


def _stage(
    name: str, on: bool, probs: torch.Tensor, possible: torch.Tensor, chars: Sequence[str], top: int, actual: int | None
) -> Stage:
    kept = int(possible.sum())
    masked = probs.masked_fill(~possible, -1.0)
    # Stable: equal probabilities keep the vocabulary's order (topk leaves ties in any order), so
    # the same step always shows the same rows.
    ids = torch.argsort(masked, descending=True, stable=True)[: min(top, kept)]
    values = masked[ids]
    best = tuple(Candidate(i, chars[i], p) for i, p in zip(ids.tolist(), values.tolist(), strict=True))
    return Stage(name, best, kept, on, None if actual is None else float(probs[actual]))


def pipeline(
    logits: torch.Tensor,
    params: SamplingParams,
    history: list[int],
    chars: Sequence[str],
    top: int = 10,
    actual: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[tuple[Stage, ...], Candidate]:
    """Every stage's `top` most likely survivors (and the `actual` token's probability there),
    then the draw: the final distribution and the token `sample` picks from it with `generator`."""
    stages = [
        _stage(name, on, torch.softmax(x, -1), torch.isfinite(x), chars, top, actual)
        for name, on, x in stage_logits(logits, params, history)
    ]
    draw = sample(logits.float(), params, history, generator)
    stages.append(_stage("draw", True, draw.probs, draw.probs > 0, chars, top, actual))
    return tuple(stages), Candidate(draw.id, chars[draw.id], float(draw.probs[draw.id]))
