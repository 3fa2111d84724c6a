"""The seed baseline must be the original computation on our exact weights: same logits, same
greedy tokens as the engine, inside the context window and past it (where both crop)."""

from dataclasses import replace

import torch

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.bench.original_loop import OriginalBabyGPT, OriginalLoop
from babygpt_tui.engine.generate import Generator
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict

GREEDY = SamplingParams(temperature=0.0)


def _pair(make_tiny_model, tiny_tokenizer, block_size: int = 16):
    model = make_tiny_model(tiny_tokenizer.vocab_size, block_size=block_size)
    original = OriginalBabyGPT.from_model(model)
    return model, original


def _engine_ids(model, tokenizer, prompt: str, n: int, **kw) -> list[int]:
    gen = Generator(model, tokenizer, device="cpu", dtype="float32")
    return [ev.id for ev in gen.stream(GenerationRequest(prompt, replace(GREEDY, max_new_tokens=n), **kw))]


def test_original_model_loads_the_v9_export_of_our_model(make_tiny_model, tiny_tokenizer) -> None:
    model, original = _pair(make_tiny_model, tiny_tokenizer)
    exported = export_state_dict(model, LAYOUTS["v9"])
    assert set(original.state_dict()) == {k for k in exported if not k.endswith(".tril")}


def test_original_full_forward_and_cached_steps_match_engine_logits(make_tiny_model, tiny_tokenizer) -> None:
    model, original = _pair(make_tiny_model, tiny_tokenizer)
    idx = torch.randint(0, tiny_tokenizer.vocab_size, (1, 16), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, _ = model(idx)
        original.reset_cache()
        full = original(idx)
        original.reset_cache()
        first = original(idx[:, :6])
        steps = [original(idx[:, t : t + 1]) for t in range(6, 16)]  # the per-head torch.cat cache path
    assert torch.allclose(full, ours, atol=1e-4)
    assert torch.allclose(torch.cat([first] + steps, dim=1), ours, atol=1e-4)


def test_original_loop_matches_engine_greedy_within_block_size(make_tiny_model, tiny_tokenizer) -> None:
    model, original = _pair(make_tiny_model, tiny_tokenizer)
    prompt = "明月几时有"
    n = model.config.block_size - len(prompt)
    theirs, stamps = OriginalLoop(original).generate(tiny_tokenizer.encode(prompt).ids, n)
    assert theirs == _engine_ids(model, tiny_tokenizer, prompt, n)
    assert len(stamps) == n and stamps == sorted(stamps)


def test_original_loop_past_block_size_matches_engine_with_context_keep_block_minus_one(
    make_tiny_model, tiny_tokenizer
) -> None:
    model, original = _pair(make_tiny_model, tiny_tokenizer)
    block = model.config.block_size
    prompt, n = "明月", 3 * block + 5
    theirs, _ = OriginalLoop(original).generate(tiny_tokenizer.encode(prompt).ids, n)
    assert theirs == _engine_ids(model, tiny_tokenizer, prompt, n, context_keep=block - 1)
