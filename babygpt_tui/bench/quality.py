"""What the faster dtypes cost in quality, beside their speed in the same run.

For each of bfloat16 and int8 against float32, on the benchmarked model:
- nll delta on the model's own 128-token sample (the check `--dtype auto` makes, autodtype.py);
- greedy agreement: the float32 model's greedy reply to the bench prompt, teacher-forced through
  the other dtype — the share of positions where its argmax is float32's — and the first token
  at which the other dtype's own greedy reply differs from float32's.

The held-out number (`babygpt-tui score --split val --dtype D`) needs the training corpus and a
minute per dtype; the README gives it for the bundled model.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ..api import GenerationRequest, SamplingParams
from ..engine.autodtype import NLL_BOUND, converted, nll, probe_ids
from ..engine.generate import Generator
from ..engine.model import BabyGPT
from .cases import Plan

QUALITY_DTYPES = ("bfloat16", "int8")


def greedy_ids(gen: Generator, plan: Plan) -> list[int]:
    run = gen.stream(GenerationRequest(plan.prompt, SamplingParams(temperature=0.0, max_new_tokens=plan.decode_n)))
    return [ev.id for ev in run]


def teacher_forced_agreement(model: BabyGPT, reference: BabyGPT, prompt: list[int], reply: list[int]) -> float:
    ids = (prompt + reply)[-model.config.block_size :]
    x = torch.tensor([ids[:-1]])
    with torch.inference_mode():
        a, _ = model(x)
        b, _ = reference(x)
    n = min(len(reply), len(ids) - 1)
    return float((a[0, -n:].float().argmax(-1) == b[0, -n:].float().argmax(-1)).float().mean())


def first_difference(a: list[int], b: list[int]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)


def quality(model: BabyGPT, gens: dict[str, Generator], plan: Plan) -> dict[str, Any]:
    """`model`: float32, not fused (the subject's); `gens`: the bench's generators by dtype."""
    reference = copy.deepcopy(model).float().fuse()
    probe = probe_ids(reference)
    base = nll(reference, probe)
    out: dict[str, Any] = {"bound_nats_per_char": NLL_BOUND, "probe_tokens": len(probe), "dtypes": {}}
    fp32 = gens.get("float32")
    want = greedy_ids(fp32, plan) if fp32 is not None else []
    for name in QUALITY_DTYPES:
        if name not in gens:
            continue
        twin = converted(model, name).eval()
        entry: dict[str, Any] = {"nll_delta_own_sample": nll(twin, probe) - base}
        if want:
            got = greedy_ids(gens[name], plan)
            entry["greedy_agreement"] = teacher_forced_agreement(twin, reference, plan.prompt_ids, want)
            entry["greedy_first_difference"] = first_difference(want, got)
            entry["greedy_tokens"] = len(want)
        out["dtypes"][name] = entry
    return out
