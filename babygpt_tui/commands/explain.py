"""`babygpt-tui explain`: why the model would write the character after position N of a text —
its next-character distribution after each sampler stage, and where each attention head looked."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..api import SamplingParams
from ..engine.explain import default_start, explain
from ..engine.sampling import is_greedy
from ..errors import UserError
from ..explanation import Candidate, Explanation, Stage, to_wire, top_positions
from .common import load_generator, seed_of, settings_from_args

HEAD_TOP = 3  # positions listed per head in the text output (--json has every weight)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.top_alternatives < 1:
        raise UserError(f"--top-alternatives = {args.top_alternatives} must be 1 or more")
    # As `score`: float32 unless --dtype says otherwise, so probabilities match score and generate.
    gen = load_generator(args, settings, dtype=getattr(args, "dtype", None) or "float32")
    enc = gen.tokenizer.encode(args.text)
    if enc.skipped:
        raise UserError(
            f"--text has characters the model does not know: {' '.join(map(_shown, enc.skipped[:20]))}; remove them"
        )
    ids = enc.ids
    if not ids:
        raise UserError("--text is empty: give at least one character")
    position = len(ids) - 1 if args.position is None else args.position
    if position < 0:
        position += len(ids)  # -1 is the last character, as in Python
    if not 0 <= position < len(ids):
        raise UserError(f"--position {args.position} is outside the text (0 to {len(ids) - 1}, or -1 for the last)")
    block = gen.block_size
    lowest = default_start(position, block)
    start = lowest if args.window_start is None else args.window_start
    if not lowest <= start <= position:
        raise UserError(
            f"--window-start {start} is outside what position {position} can see ({lowest} to {position}: "
            f"the window holds at most block_size = {block} characters)"
        )
    seed = seed_of(settings)
    params = settings.sampling
    result = explain(
        gen.model, gen.tokenizer.chars, ids, position, params, start, args.top_alternatives, seed, gen.info.layout
    )
    if args.json:
        context = {
            "layout": gen.info.layout,
            "n_layer": gen.info.n_layer,
            "n_head": gen.info.n_head,
            "block_size": block,
            "dtype": gen.info.dtype,
            "seed": seed,
            "params": asdict(params),
        }
        print(json.dumps(context | to_wire(result), ensure_ascii=False))
        return 0
    print("\n".join(_report(result, gen.tokenizer.chars, ids, params, seed)))
    return 0


def _shown(text: str) -> str:
    """Control characters escaped (the text and vocabulary come from files and from the user)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _quoted(text: str) -> str:
    return f"'{_shown(text)}'"


def _percent(p: float) -> str:
    return f"{p * 100:.1f}%" if p >= 0.001 or p == 0 else f"{p * 100:.2g}%"


def _candidates(top: tuple[Candidate, ...]) -> str:
    return "  ".join(f"{_quoted(c.text)} {_percent(c.prob)}" for c in top)


def _settings(params: SamplingParams, seed: int) -> str:
    def knob(name: str, value: object, off: bool) -> str:
        return f"{name} {'off' if off else value}"

    return ", ".join(
        (
            f"temperature {params.temperature:g}" + (" (greedy)" if is_greedy(params) else ""),
            knob("top-k", params.top_k, params.top_k <= 0),
            knob("top-p", f"{params.top_p:g}", params.top_p >= 1.0),
            knob("min-p", f"{params.min_p:g}", params.min_p <= 0.0),
            knob("repetition penalty", f"{params.repetition_penalty:g}", params.repetition_penalty == 1.0),
            f"seed {seed}",
        )
    )


def _stage_line(stage: Stage, width: int, greedy: bool, actual: str) -> str:
    name = stage.title.ljust(width)
    if not stage.on:
        cut = stage.name in ("top_k", "top_p", "min_p")
        return f"  {name}  {'not used: temperature 0 takes the most likely' if greedy and cut else 'off'}"
    then = ""
    if stage.actual is not None:
        then = f"   ({_quoted(actual)} in the text: {_percent(stage.actual) if stage.actual > 0 else 'cut'})"
    return f"  {name}  {stage.kept:>7,} kept  {_candidates(stage.top)}{then}"


def _report(e: Explanation, chars: list[str], ids: list[int], params: SamplingParams, seed: int) -> list[str]:
    window = "".join(chars[i] for i in ids[e.start : e.position + 1])
    shown = window if len(window) <= 40 else "…" + window[-39:]
    lines = [
        f"after position {e.position} {_quoted(chars[ids[e.position]])}: the model sees positions "
        f"{e.start} to {e.position} ({e.position - e.start + 1} characters): {_quoted(shown)}",
    ]
    if e.actual is not None:
        lines.append(f"the text goes on with {_quoted(e.actual.text)}: raw probability {_percent(e.actual.prob)}")
    lines += ["", f"sampler pipeline ({_settings(params, seed)}):"]
    width = max(len(s.title) for s in e.stages)
    greedy = is_greedy(params)
    actual = e.actual.text if e.actual is not None else ""
    lines += [_stage_line(s, width, greedy, actual) for s in e.stages]
    drew = f"{_quoted(e.drawn.text)} ({_percent(e.drawn.prob)} in the final distribution)"
    lines.append(f"  {'drew'.ljust(width)}  {drew}")
    lines.append("")
    if e.attention is None:
        lines.append(f"attention: {e.note}")
        return lines
    lines.append(
        f"attention: where position {e.position} looked, {e.n_layer} layers x {e.n_head} heads "
        f"(the {HEAD_TOP} heaviest positions of each; every head's weights sum to 100%):"
    )

    def heaviest(weights: tuple[float, ...]) -> str:
        return "  ".join(
            f"{_quoted(chars[ids[p]])}@{p} {_percent(w)}" for p, w in top_positions(weights, e.start, HEAD_TOP)
        )

    label = len(f"layer {e.n_layer}")
    for layer, heads in enumerate(e.attention):
        lines.append(f"  {f'layer {layer + 1}':<{label}}  all heads  {heaviest(e.averaged(layer))}")
        lines += [f"  {'':<{label}}  {f'head {h + 1}':<9}  {heaviest(w)}" for h, w in enumerate(heads)]
    return lines
