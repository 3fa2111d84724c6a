"""What each benchmark row runs, and exactly what it times.

Every decode rate is (tokens - 1) / (time of the last token - time of the first token): the
prompt's prefill and any set-up are outside the timed span, like the TUI's tokens/s gauge
(GenStats.decode_tokens_per_s). Prefill rates time one forward pass over a 200-token prompt.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..api import GenerationRequest, SamplingParams
from ..batching import Batcher
from ..engine.generate import Generator
from ..engine.model import BabyGPT
from ..engine.tokenizer import CharTokenizer
from .floor import Floor
from .hf_baseline import HFUnavailable, build_hf_model, hf_generate
from .original_loop import OriginalBabyGPT, OriginalLoop
from .timing import Case, Sample, decode_rate, skipped_case, sync

DECODE_TOKENS = 200  # the "short run" (fewer when the context window is smaller)
LONG_TOKENS = 1000  # the long run: several cache shifts
PREFILL_TOKENS = 200
DECODE_PROMPT = 16  # a short prompt, so prompt + short run fit in block_size 256 with no shift
WARMUP_TOKENS = 16
GREEDY = SamplingParams(temperature=0.0)
# What a TUI user typically has on: every warper active, plus the alternatives panel.
TUI_PARAMS = SamplingParams(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repetition_penalty=1.1)


@dataclass(frozen=True)
class Plan:
    """The token counts and prompts one model is measured with."""

    prompt: str  # decode prompt (DECODE_PROMPT characters)
    prompt_ids: list[int]
    prefill_ids: list[int]
    decode_n: int
    long_n: int

    @property
    def warmup_n(self) -> int:
        # Never more than the short run: the baselines cannot go past block_size without cropping.
        return min(WARMUP_TOKENS, self.decode_n)

    @classmethod
    def for_model(cls, model: BabyGPT, tokenizer: CharTokenizer, seed: int = 0) -> Plan:
        block = model.config.block_size
        prompt_len = max(1, min(DECODE_PROMPT, block // 4))
        # Any characters of the vocabulary do: speed does not depend on what the text says.
        chars = [c for c in tokenizer.chars if not c.isspace()] or tokenizer.chars
        rng = random.Random(seed)
        text = "".join(rng.choice(chars) for _ in range(min(PREFILL_TOKENS, block)))
        prompt = text[:prompt_len]
        return cls(
            prompt=prompt,
            prompt_ids=tokenizer.encode(prompt).ids,
            prefill_ids=tokenizer.encode(text).ids,
            decode_n=min(DECODE_TOKENS, block - prompt_len),
            long_n=LONG_TOKENS,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decode_prompt": len(self.prompt_ids),
            "decode": self.decode_n,
            "prefill": len(self.prefill_ids),
            "long": self.long_n,
        }


def prefill_rate(prefill: Callable[[list[int]], object], ids: list[int], device: torch.device, times: int = 3) -> float:
    """Median of `times` single prefills (each is short, so one alone is noisy)."""
    spans = []
    for _ in range(times):
        t0 = time.perf_counter()
        prefill(ids)
        sync(device)
        spans.append(time.perf_counter() - t0)
    return len(ids) / statistics.median(spans)


def engine_generator(model: BabyGPT, tokenizer: CharTokenizer, device: torch.device, dtype: str) -> Generator:
    # Generator converts the module in place (.to + fuse), so each dtype gets its own copy.
    return Generator(copy.deepcopy(model), tokenizer, device=device, dtype=dtype, name="bench")


def engine_stream_case(
    key: str,
    label: str,
    gen: Generator,
    plan: Plan,
    *,
    params: SamplingParams = GREEDY,
    n: int | None = None,
    top_alternatives: int = 0,
    with_prefill: bool = False,
    warmup_n: int | None = None,
) -> Case:
    """Our engine as the TUI drives it: Generator.stream, sampler and TokenEvents included; with
    alternatives, also the records of them the TUI's engine makes (`Batcher`, per batch)."""
    n_tokens = n or plan.decode_n
    case = Case(key, label, str(gen.info.dtype), run=lambda warmup: Sample())

    def run(warmup: bool) -> Sample:
        sample = Sample()
        if with_prefill:
            with torch.inference_mode():
                sample.prefill = prefill_rate(gen.prefill, plan.prefill_ids, gen.device)
        request = GenerationRequest(
            plan.prompt,
            replace(params, max_new_tokens=(warmup_n or plan.warmup_n) if warmup else n_tokens),
            seed=0,
            top_alternatives=top_alternatives,
        )
        stream = gen.stream(request)
        if top_alternatives:  # as the TUI's engine makes them: per batch of tokens, into records
            batcher = Batcher(0, time.perf_counter(), make_records=stream.defer_alternatives(), windows=True)
            for event in stream:
                batcher.add(event)
            batcher.flush()
        else:
            for _ in stream:
                pass
        assert stream.stats is not None
        sample.decode = stream.stats.decode_tokens_per_s
        if stream.stats.shifts and not warmup:
            case.note = f"{stream.stats.shifts} cache shifts (context_keep {stream.keep}, block {gen.block_size})"
        return sample

    case.run = run
    return case


def engine_forward_case(key: str, label: str, gen: Generator, plan: Plan) -> Case:
    """Only Generator.decode + argmax: the engine without sampler, events or the stream loop."""

    def run(warmup: bool) -> Sample:
        n = plan.warmup_n if warmup else plan.decode_n
        stamps: list[float] = []
        with torch.inference_mode():
            logits = gen.prefill(plan.prompt_ids)
            for i in range(n):
                token = int(logits.max(0).indices)  # the greedy sampler's own argmax (sampling.pick)
                stamps.append(time.perf_counter())
                if i < n - 1:
                    logits = gen.decode(token)
        return Sample(decode=decode_rate(stamps))

    return Case(key, label, str(gen.info.dtype), run, note="decode() + argmax, no sampler/events")


def original_case(model: BabyGPT, plan: Plan, device: torch.device) -> Case:
    loop = OriginalLoop(OriginalBabyGPT.from_model(model).to(device))

    def run(warmup: bool) -> Sample:
        pre = prefill_rate(loop.prefill, plan.prefill_ids, device)
        _, stamps = loop.generate(plan.prompt_ids, plan.warmup_n if warmup else plan.decode_n)
        return Sample(decode=decode_rate(stamps), prefill=pre)

    return Case("original", "original BabyGPT loop", "float32", run, note="per-head torch.cat cache, mask per step")


def hf_case(model: BabyGPT, plan: Plan, device: torch.device) -> Case:
    label = "HF GPT2LMHeadModel.generate"
    try:
        hf = build_hf_model(model.config, device)
    except HFUnavailable as e:
        return skipped_case("hf", label, "float32", str(e))

    def run(warmup: bool) -> Sample:
        _, stamps = hf_generate(hf, plan.prompt_ids, plan.warmup_n if warmup else plan.decode_n)
        return Sample(decode=decode_rate(stamps))

    return Case("hf", label, "float32", run, note="greedy, use_cache=True, random weights")


def floor_case(model: BabyGPT, plan: Plan, device: torch.device, dtype: torch.dtype) -> Case:
    name = str(dtype).removeprefix("torch.")
    floor = Floor(model.config, dtype, device)
    mb = floor.bytes_per_step / 1e6

    def run(warmup: bool) -> Sample:
        return Sample(decode=floor.steps_per_s(plan.warmup_n if warmup else plan.decode_n))

    return Case(f"floor_{name}", "floor: weight matmuls only", name, run, note=f"{mb:.1f} MB of weights per token")
