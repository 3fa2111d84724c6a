"""KV-cached generation: exactness past block_size, reproducibility, live knobs, cancel."""

import threading
from dataclasses import replace

import pytest
import torch

from babygpt_tui.api import GenerationRequest, ParamsHolder, SamplingParams
from babygpt_tui.engine.errors import EngineError

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=60)


def cropped_loop(model, ids: list[int], n: int) -> list[int]:
    """The original no-cache loop: crop to the last block_size tokens, argmax, append."""
    block = model.config.block_size
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(torch.tensor([out[-block:]]))
            out.append(int(torch.argmax(logits[0, -1])))
    return out[len(ids) :]


def generate_ids(gen, prompt: str, params: SamplingParams, **kw) -> list[int]:
    return [ev.id for ev in gen.stream(GenerationRequest(prompt, params, **kw))]


def test_generation_past_block_size_matches_cropped_loop(tiny_generator, tiny_tokenizer) -> None:
    block = tiny_generator.block_size
    n = 3 * block + 5
    ids = tiny_tokenizer.encode("明月几时有").ids
    ours = generate_ids(tiny_generator, "明月几时有", replace(GREEDY, max_new_tokens=n), context_keep=block - 1)
    assert ours == cropped_loop(tiny_generator.model, ids, n)


def test_default_context_keep_shifts_and_never_crashes(tiny_generator) -> None:
    block = tiny_generator.block_size
    run = tiny_generator.stream(GenerationRequest("明月", replace(GREEDY, max_new_tokens=4 * block)))
    events = list(run)
    assert len(events) == 4 * block
    assert run.stats.shifts >= 3
    assert all(ev.cache_len <= block for ev in events)
    assert any(ev.shifted for ev in events)


def test_same_seed_same_text_other_seed_differs(tiny_generator) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=40)
    a = generate_ids(tiny_generator, "明月", params, seed=7)
    assert a == generate_ids(tiny_generator, "明月", params, seed=7)
    assert a != generate_ids(tiny_generator, "明月", params, seed=8)


def test_empty_prompt_starts_after_a_blank_line(tiny_generator, tiny_tokenizer) -> None:
    run = tiny_generator.stream(GenerationRequest("", replace(GREEDY, max_new_tokens=3)))
    assert run.prompt_ids == [tiny_tokenizer.stoi["\n"]] * 2  # the poem boundary: a new poem
    assert len(list(run)) == 3


def test_long_prompt_is_cropped_and_reported(tiny_generator) -> None:
    run = tiny_generator.stream(GenerationRequest("明月几时有" * 20, replace(GREEDY, max_new_tokens=2)))
    assert run.prompt_cropped and len(run.prompt_ids) == tiny_generator.block_size
    list(run)
    assert run.stats.prompt_cropped


def test_unknown_characters_are_skipped_and_reported(tiny_generator) -> None:
    run = tiny_generator.stream(GenerationRequest("明Zq月", replace(GREEDY, max_new_tokens=2)))
    assert run.skipped_chars == ("Z", "q")
    list(run)
    assert run.stats.skipped_chars == ("Z", "q")


def test_params_are_read_before_every_token(tiny_generator) -> None:
    holder = ParamsHolder(SamplingParams(temperature=1.0, max_new_tokens=30))
    seen = []
    run = tiny_generator.stream(GenerationRequest("明月", holder.get()), params_source=holder.get)
    for ev in run:
        seen.append(ev.params.temperature)
        if ev.step == 9:
            holder.set(replace(holder.get(), temperature=0.0))
    assert seen[:10] == [1.0] * 10 and seen[10:] == [0.0] * 20


def test_max_new_tokens_changes_live(tiny_generator) -> None:
    holder = ParamsHolder(SamplingParams(max_new_tokens=500))
    events = []
    for ev in tiny_generator.stream(GenerationRequest("明", holder.get()), params_source=holder.get):
        events.append(ev)
        holder.set(replace(holder.get(), max_new_tokens=5))
    assert len(events) == 5


def test_cancel_stops_at_once_and_keeps_partial(tiny_generator) -> None:
    cancel = threading.Event()
    run = tiny_generator.stream(GenerationRequest("明", replace(GREEDY, max_new_tokens=1000)), cancel=cancel)
    got = []
    for ev in run:
        got.append(ev)
        if len(got) == 7:
            cancel.set()
    assert len(got) == 7
    assert run.stats.stop_reason == "stopped" and run.stats.tokens == 7


def test_logprob_is_under_the_raw_distribution(tiny_generator) -> None:
    model = tiny_generator.model
    params = SamplingParams(temperature=0.3, top_k=3, max_new_tokens=1)
    ev = next(iter(tiny_generator.stream(GenerationRequest("明月", params, seed=1))))
    ids = tiny_generator.tokenizer.encode("明月").ids
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    expected = torch.log_softmax(logits[0, -1], -1)[ev.id]
    assert abs(ev.logprob - float(expected)) < 1e-4
    assert ev.warped_prob >= torch.exp(expected).item()  # warping concentrates on kept tokens


def test_top_alternatives_are_sorted_probabilities(tiny_generator) -> None:
    params = SamplingParams(temperature=1.0, top_k=2, max_new_tokens=3)
    for ev in tiny_generator.stream(GenerationRequest("明", params, top_alternatives=5)):
        raw = [a.prob for a in ev.top_raw]
        assert raw == sorted(raw, reverse=True) and len(raw) == 5
        assert sum(a.prob > 0 for a in ev.top_warped) <= 2  # top-k 2 cut the rest


def test_forced_prefix_is_emitted_before_sampling(tiny_generator, tiny_tokenizer) -> None:
    forced = tuple(tiny_tokenizer.encode("花落").ids)
    ids = generate_ids(tiny_generator, "明", replace(GREEDY, max_new_tokens=5), forced_prefix=forced)
    assert tuple(ids[:2]) == forced and len(ids) == 5


def test_stats_report_prefill_and_decode_rate(tiny_generator) -> None:
    run = tiny_generator.stream(GenerationRequest("明月", replace(GREEDY, max_new_tokens=20)))
    list(run)
    s = run.stats
    assert s.tokens == 20 and s.prompt_tokens == 2 and s.stop_reason == "length"
    assert s.prefill_ms > 0 and s.decode_tokens_per_s > 0


@pytest.mark.parametrize("keep", [-1, 16, 100])
def test_context_keep_out_of_range_is_a_user_error(tiny_generator, keep: int) -> None:
    with pytest.raises(EngineError, match="context_keep"):
        tiny_generator.stream(GenerationRequest("明", GREEDY, context_keep=keep))


def test_exception_mid_generation_marks_error(tiny_generator, monkeypatch) -> None:
    calls = {"n": 0}
    real = tiny_generator.decode

    def flaky(token: int):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected")
        return real(token)

    monkeypatch.setattr(tiny_generator, "decode", flaky)
    run = tiny_generator.stream(GenerationRequest("明", replace(GREEDY, max_new_tokens=10)))
    with pytest.raises(RuntimeError):
        list(run)
    assert run.stats.stop_reason == "error" and "injected" in run.stats.error
    monkeypatch.setattr(tiny_generator, "decode", real)
    assert len(generate_ids(tiny_generator, "明", replace(GREEDY, max_new_tokens=4))) == 4


def test_half_precision_on_cpu_prefills_with_a_float32_twin(tiny_model, tiny_tokenizer) -> None:
    """bf16 decodes faster on a CPU without native bf16, but prefills ~6x slower: a float32 copy
    prefills into the cache (float32 on a CPU: attention_dtype). Its logits are the float32
    model's; decoding carries on in bf16."""
    import copy

    from babygpt_tui.engine.generate import Generator

    reference = copy.deepcopy(tiny_model).eval()
    gen = Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="bfloat16")
    assert gen._prefill_model is not None and gen.model.lm_head.weight.dtype == torch.bfloat16
    assert gen.cache.k.dtype == torch.float32
    ids = tiny_tokenizer.encode("明月几时有").ids
    with torch.inference_mode():
        want, _ = reference(torch.tensor([ids]))
        got = gen.prefill(ids)
        assert torch.allclose(got, want[0, -1], atol=1e-5)  # float32 logits from the twin
        step = gen.decode(ids[0])
        full, _ = gen.model(torch.tensor([ids + [ids[0]]]))  # the bf16 model over everything
    assert step.dtype == torch.bfloat16 and torch.allclose(step.float(), full[0, -1].float(), atol=0.1)
    # and a long reply with cache shifts runs through
    run = gen.stream(GenerationRequest("明", SamplingParams(max_new_tokens=3 * gen.block_size), seed=1))
    assert len([ev for ev in run]) == 3 * gen.block_size and run.stats.shifts > 0


def test_greedy_alternatives_keep_the_records_the_one_hot_distribution_gave(tiny_generator) -> None:
    """Greedy's warped distribution is one-hot: its top alternatives are the argmax at 1 and
    zeros, made without building it — and the typed records (what the TUI shows and stores) are
    those of the full one-hot distribution's top-k."""
    from babygpt_tui.api import Alternative
    from babygpt_tui.batching import record_of

    for params in (replace(GREEDY, max_new_tokens=8), replace(GREEDY, max_new_tokens=8, repetition_penalty=3.0)):
        for ev in tiny_generator.stream(GenerationRequest("明月", params, top_alternatives=5)):
            assert ev.top_warped[0] == Alternative(ev.id, ev.text, 1.0) and len(ev.top_warped) == 5
            assert all(a.prob == 0.0 for a in ev.top_warped[1:]) and ev.warped_prob == 1.0
            one_hot = torch.zeros(tiny_generator.model.config.vocab_size)
            one_hot[ev.id] = 1.0
            values, ids = torch.topk(one_hot, 5)
            chars = tiny_generator.tokenizer.chars
            full = tuple(Alternative(int(i), chars[int(i)], float(p)) for i, p in zip(ids, values, strict=True))
            assert record_of(ev) == record_of(replace(ev, top_warped=full))


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.8),
        SamplingParams(temperature=1.3, top_k=3),
        SamplingParams(temperature=0.7, top_p=0.6),
        SamplingParams(temperature=1.0, min_p=0.2),
        SamplingParams(temperature=0.9, top_k=40, top_p=0.9, min_p=0.05),
    ],
)
def test_warped_alternatives_read_off_the_raw_top_keep_the_records_a_full_topk_gives(params, tiny_generator) -> None:
    """Without a repetition penalty the warpers keep the raw order, so the warped alternatives
    are the raw top ones with their warped probabilities (cut ones at 0), with no second topk:
    the typed records (what the TUI shows and stores) are those of a topk over the warped
    distribution."""
    from babygpt_tui.batching import record_of
    from babygpt_tui.engine.alternatives import alternatives
    from babygpt_tui.engine.sampling import order_kept, pick

    assert order_kept(params) and not order_kept(replace(params, repetition_penalty=1.3))
    tok = tiny_generator.tokenizer
    gen = torch.Generator().manual_seed(0)
    for seed in range(30):
        logits = torch.randn(tok.vocab_size, generator=torch.Generator().manual_seed(seed)) * 3
        chosen = pick(logits, params, [], gen, want_probs=True)
        raw, read_off = alternatives(chosen, 10, tok.chars, order_kept=True)
        raw_again, full = alternatives(chosen, 10, tok.chars, order_kept=False)
        assert raw == raw_again and [a.id for a in read_off] == [a.id for a in raw]
        ev = _event(chosen.id, tok.chars[chosen.id], params, raw, read_off)
        assert record_of(ev) == record_of(replace(ev, top_warped=full))


def _event(token: int, text: str, params: SamplingParams, raw, warped):
    from babygpt_tui.api import TokenEvent

    return TokenEvent(
        id=token, text=text, logprob=-1.0, position=0, step=0, cache_len=1, shifted=False, time=0.0,
        params=params, top_raw=raw, top_warped=warped, warped_prob=0.5,
    )  # fmt: skip
