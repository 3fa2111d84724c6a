"""Explain one next-character prediction: one forward over the window the model saw, with the
model's attention probe on, and the sampler's stages over its logits.

A reply's character was predicted from the characters in the KV cache at that step: the last
`block_size` or fewer, fewer again after a cache shift (the cache then restarts from the kept
tail). `start` says where that window began; the forward from position 0 over it is the
computation the cache held (a shift re-prefills from 0 too), so the logits agree with the ones
the token was drawn from.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..api import SamplingParams
from ..explanation import Candidate, Explanation, StepStages, Weights
from .model import BabyGPT, ModelConfig
from .pipeline import pipeline
from .tokenizer import CharTokenizer


def default_start(position: int, block_size: int) -> int:
    """The window a prompt ending at `position` is cropped to: its last block_size characters."""
    return max(0, position + 1 - block_size)


def no_attention_note(cfg: ModelConfig, layout: str = "") -> str:
    """Why a model has no attention to show ("" when it has); v1 and v2 of the tutorial have none."""
    if cfg.n_layer:
        return ""
    seen = "the last character and its position" if cfg.positions else "the last character"
    return f"{layout or 'this model'} has no attention layers: it predicts the next character from {seen} alone"


def forward_with_attention(model: BabyGPT, window: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The last position's logits (V,) and, per layer, its attention weights (H, T) over the window."""
    device = model.lm_head.weight.device
    probe: list[torch.Tensor] = []
    with torch.inference_mode():
        logits, _ = model(torch.tensor([list(window)], dtype=torch.long, device=device), attention=probe)
    return logits[0, -1], [weights[0, :, -1, :] for weights in probe]


def _as_weights(rows: list[torch.Tensor]) -> Weights:
    return tuple(tuple(tuple(head) for head in layer.float().tolist()) for layer in rows)


def explain(
    model: BabyGPT,
    chars: Sequence[str],
    ids: Sequence[int],
    position: int,
    params: SamplingParams,
    start: int | None = None,
    top: int = 10,
    seed: int = 0,
    layout: str = "",
) -> Explanation:
    """Why the model would write what follows `ids[position]`, having seen ids[start..position].

    `start` defaults to the crop of a prompt ending at `position`. The repetition penalty looks at
    the last `repetition_window` ids up to `position`, as the decode loop does. If `ids` goes on
    past `position`, the next id is the actual character, and every stage gives its probability.
    """
    block = model.config.block_size
    if not 0 <= position < len(ids):
        raise ValueError(f"position {position} is outside the {len(ids)} ids")
    start = default_start(position, block) if start is None else start
    if not default_start(position, block) <= start <= position:
        raise ValueError(f"start {start} is outside the window of position {position} (block_size {block})")
    logits, rows = forward_with_attention(model, ids[start : position + 1])
    actual_id = ids[position + 1] if position + 1 < len(ids) else None
    generator = torch.Generator(device=logits.device).manual_seed(seed)
    stages, drawn = pipeline(logits, params, list(ids[: position + 1]), chars, top, actual_id, generator)
    raw = stages[0].actual
    actual = Candidate(actual_id, chars[actual_id], raw) if actual_id is not None and raw is not None else None
    note = no_attention_note(model.config, layout)
    window = "".join(chars[i] for i in ids[start : position + 1])
    return Explanation(position, start, _as_weights(rows) if rows else None, note, stages, drawn, actual, window)


def explain_context(
    model: BabyGPT,
    tokenizer: CharTokenizer,
    context: str,
    char: str,
    window: int,
    params: SamplingParams,
    top: int = 10,
    seed: int = 0,
    layout: str = "",
) -> Explanation:
    """Why the model wrote `char` after `context` (the text it was given: the prompt as sent, then
    the reply so far), having seen the last `window` characters of it (0: unknown, the default
    crop). Characters the vocabulary lacks are skipped, and an empty context is the poem boundary, as
    generation does, so the ids are the ones the decode loop had. `char` "": what comes next."""
    ids = tokenizer.encode(context).ids or tokenizer.start_ids()
    position = len(ids) - 1
    if char:
        if (actual := tokenizer.stoi.get(char)) is None:
            raise ValueError(f"{char!r} is not in the model's vocabulary")
        ids.append(actual)
    lowest = default_start(position, model.config.block_size)
    start = lowest if window <= 0 else max(lowest, position + 1 - window)
    return explain(model, tokenizer.chars, ids, position, params, start, top, seed, layout)


def step_stages(
    logits: torch.Tensor,
    params: SamplingParams,
    history: list[int],
    chars: Sequence[str],
    token: int,
    step: int,
    top: int = 10,
) -> StepStages:
    """The sampler's stages at one step of a running reply, from the logits it drew `token` from."""
    stages, _ = pipeline(logits, params, history, chars, top, token)
    drawn = stages[-1].actual
    return StepStages(step, stages, Candidate(token, chars[token], drawn if drawn is not None else 0.0))
