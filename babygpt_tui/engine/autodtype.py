"""`--dtype auto` on a CPU: the fastest dtype whose quality is within `NLL_BOUND` of float32.

Speed comes from timing the model's weight matmuls in each dtype (`device.cpu_step_times`);
quality from the model itself: it writes `PROBE_TOKENS` characters of its own (float32,
temperature 1, a fixed seed), and each faster dtype must score that text within `NLL_BOUND`
nats/char of float32's score of it. A model's own sample is not its held-out text — README's
speed table has `score --split val` deltas for the bundled model — but it is what the model
will be asked to write, it needs no corpus, and it takes a fraction of a second.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..api import SamplingParams
from .device import COMPUTE_DTYPES, cpu_dtypes_fastest_first
from .kvcache import KVCache
from .model import BabyGPT
from .quant import quantize_int8
from .sampling import sample

NLL_BOUND = 0.01  # nats per character: what a faster dtype may cost at most
PROBE_TOKENS = 128
PROBE_SEED = 0


@dataclass(frozen=True)
class AutoChoice:
    dtype: torch.dtype
    order: tuple[str, ...]  # the dtypes by measured speed, fastest first
    deltas: dict[str, float]  # nll delta vs float32 of each dtype checked (nats/char)

    def describe(self) -> str:
        checked = ", ".join(f"{k} {v:+.4f}" for k, v in self.deltas.items())
        return f"fastest first: {' > '.join(self.order)}; nll vs float32 on its own sample: {checked or 'none checked'}"


def converted(model: BabyGPT, name: str) -> BabyGPT:
    """A float32 model's copy in `name` (int8: quant.py; floats: every parameter cast)."""
    twin = copy.deepcopy(model).float()
    return quantize_int8(twin) if name == "int8" else twin.to(COMPUTE_DTYPES[name])


def probe_ids(reference: BabyGPT, n: int = PROBE_TOKENS, seed: int = PROBE_SEED) -> list[int]:
    """`n` tokens the float32 model samples itself (temperature 1), from token 0."""
    n = max(2, min(n, reference.config.block_size))
    cache = KVCache.for_model(reference)
    gen = torch.Generator().manual_seed(seed)
    params = SamplingParams(temperature=1.0)
    ids = [0]
    with torch.inference_mode():
        logits, _ = reference(torch.tensor([ids]), cache=cache, last_only=True)
        step = logits[0, -1]
        for pos in range(1, n):
            token = sample(step, params, ids, gen).id
            ids.append(token)
            if pos < n - 1:
                step = reference.decode_step(token, cache, pos)
    return ids


def nll(model: BabyGPT, ids: list[int]) -> float:
    x = torch.tensor([ids[:-1]])
    with torch.inference_mode():
        logits, _ = model(x)
        return float(F.cross_entropy(logits[0].float(), torch.tensor(ids[1:])))


def choose_cpu_dtype(model: BabyGPT, shape: tuple[int, int, int]) -> AutoChoice:
    order = tuple(cpu_dtypes_fastest_first(shape))
    deltas: dict[str, float] = {}
    reference: BabyGPT | None = None
    ids: list[int] = []
    base = 0.0
    for name in order:
        if name == "float32":
            return AutoChoice(torch.float32, order, deltas)
        if reference is None:
            reference = copy.deepcopy(model).float().fuse()
            ids = probe_ids(reference)
            base = nll(reference, ids)
        deltas[name] = nll(converted(model, name).eval(), ids) - base
        if deltas[name] <= NLL_BOUND:
            return AutoChoice(COMPUTE_DTYPES[name], order, deltas)
    return AutoChoice(torch.float32, order, deltas)
