"""explain: the model's attention probe and the sampler pipeline, against independent computations
(the layouts' reference math, `warp` and `sample`, the decode loop's own tokens past block_size)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.explain import explain, forward_with_attention
from babygpt_tui.engine.pipeline import pipeline, stage_logits
from babygpt_tui.engine.sampling import sample, warp
from babygpt_tui.explanation import STAGES
from tests.engine.layout_reference import nanogpt_state_dict, save_nanogpt, tutorial_state_dict
from tests.engine.test_model import PARTS, parts_model

IDS = [3, 17, 5, 5, 22, 9, 31, 2, 17, 8, 14, 5]


@pytest.mark.parametrize("name", list(PARTS))
def test_the_probe_changes_no_logit_and_its_weights_are_causal_distributions(name: str) -> None:
    model = parts_model(name)
    idx = torch.tensor([IDS])
    probe: list[torch.Tensor] = []
    with torch.inference_mode():
        plain, _ = model(idx)
        probed, _ = model(idx, attention=probe)
    assert torch.allclose(plain, probed, atol=1e-5)
    cfg = model.config
    assert len(probe) == cfg.n_layer
    T = len(IDS)
    for weights in probe:
        assert weights.shape == (1, cfg.n_head, T, T)
        assert torch.allclose(weights.sum(-1), torch.ones(1, cfg.n_head, T), atol=1e-5)
        assert bool((weights.triu(1) == 0).all())  # no query gives weight to a later position
        assert bool((weights[..., torch.ones(T, T, dtype=torch.bool).tril()] > 0).all())  # and to every earlier one


def _first_layer_reference(layout: str, sd: dict[str, torch.Tensor], ids: list[int], n_head: int) -> torch.Tensor:
    """The last query's attention weights (H, T) in layer 0, written from the original scripts."""
    T = len(ids)
    if layout == "nanogpt":
        x = sd["transformer.wte.weight"][ids] + sd["transformer.wpe.weight"][:T]
        x = torch.nn.functional.layer_norm(
            x, (x.shape[-1],), sd["transformer.h.0.ln_1.weight"], sd.get("transformer.h.0.ln_1.bias")
        )
        qkv = x @ sd["transformer.h.0.attn.c_attn.weight"].T
        if "transformer.h.0.attn.c_attn.bias" in sd:
            qkv = qkv + sd["transformer.h.0.attn.c_attn.bias"]
        q, k, _ = qkv.split(x.shape[-1], dim=1)
        D = x.shape[-1] // n_head
        heads = [(q[:, h * D : (h + 1) * D], k[:, h * D : (h + 1) * D]) for h in range(n_head)]
    else:
        x = sd["token_embedding_table.weight"][ids] + sd["postion_embedding_table.weight"][:T]
        if layout == "v9":
            x = torch.nn.functional.layer_norm(
                x, (x.shape[-1],), sd["blocks.0.ln1.weight"], sd["blocks.0.ln1.bias"], eps=1e-5
            )
        prefixes = {"v3": ["sa_head"], "v4": [f"sa_heads.heads.{h}" for h in range(n_head)]}
        names = prefixes.get(layout, [f"blocks.0.sa.heads.{h}" for h in range(n_head)])
        heads = [(x @ sd[f"{p}.query.weight"].T, x @ sd[f"{p}.key.weight"].T) for p in names]
    rows = []
    for q, k in heads:
        wei = (q @ k.T / math.sqrt(k.shape[-1])).masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
        rows.append(torch.softmax(wei, -1)[-1])
    return torch.stack(rows)


@pytest.mark.parametrize("layout", ["v3", "v4", "v9", "nanogpt"])
def test_the_probe_gives_each_head_of_the_original_layout_in_its_order(
    tmp_path: Path, tiny_corpus: str, tiny_tokenizer, layout: str
) -> None:
    vocab = tiny_tokenizer.vocab_size
    if layout == "nanogpt":
        sd = nanogpt_state_dict(vocab, bias=True)
        loaded = load_checkpoint(save_nanogpt(tmp_path / "out", sd, n_head=4, chars=tiny_tokenizer.chars))
    else:
        sd = tutorial_state_dict(layout, vocab)
        torch.save(sd, tmp_path / "model.pth")
        (tmp_path / "ci.txt").write_text(tiny_corpus, encoding="utf-8")
        loaded = load_checkpoint(tmp_path / "model.pth", tmp_path / "ci.txt", layout=layout)
    ids = tiny_tokenizer.encode("明月几时有把酒").ids
    _, rows = forward_with_attention(loaded.model.eval(), ids)
    want = _first_layer_reference(layout, sd, ids, loaded.model.config.n_head)
    assert rows[0].shape == want.shape
    assert torch.allclose(rows[0], want, atol=1e-5), (rows[0] - want).abs().max()


@pytest.mark.parametrize("name", ["v1", "v2"])
def test_a_model_without_attention_says_so(name: str) -> None:
    model = parts_model(name)
    e = explain(model, [chr(0x4E00 + i) for i in range(40)], IDS, 6, SamplingParams(), layout=name)
    assert e.attention is None and e.n_layer == 0
    assert e.note.startswith(f"{name} has no attention layers")
    assert ("its position" in e.note) is (name == "v2")
    assert [s.name for s in e.stages] == list(STAGES)


CHARS = [chr(0x4E00 + i) for i in range(40)]

params_strategy = st.builds(
    SamplingParams,
    temperature=st.sampled_from([0.0, 0.3, 0.8, 1.0, 1.7]),
    top_k=st.sampled_from([0, 1, 3, 10, 39, 50]),
    top_p=st.sampled_from([1.0, 0.95, 0.5, 0.05]),
    min_p=st.sampled_from([0.0, 0.05, 0.3]),
    repetition_penalty=st.sampled_from([1.0, 1.3, 0.8]),
    repetition_window=st.sampled_from([0, 4, 64]),
)


@settings(max_examples=60, deadline=None)
@given(params=params_strategy, seed=st.integers(0, 2**31))
def test_the_last_stage_is_what_warp_gives_and_the_draw_is_samples(params: SamplingParams, seed: int) -> None:
    logits = torch.randn(40, generator=torch.Generator().manual_seed(seed)) * 3
    history = [3, 5, 5, 9, 17]
    rows = stage_logits(logits, params, history)
    assert [name for name, _, _ in rows] == list(STAGES[:-1])
    assert torch.equal(rows[-1][2], warp(logits, params, history))
    stages, drawn = pipeline(logits, params, history, CHARS, top=40, generator=torch.Generator().manual_seed(seed))
    want = sample(logits, params, history, torch.Generator().manual_seed(seed))
    assert drawn.id == want.id and drawn.prob == pytest.approx(float(want.probs[want.id]))
    for stage, (_, _, x) in zip(stages, rows, strict=False):
        probs = torch.softmax(x, -1)
        assert stage.kept == int(torch.isfinite(x).sum())
        assert [c.id for c in stage.top] == torch.argsort(probs, descending=True, stable=True)[: stage.kept].tolist()
        assert sum(c.prob for c in stage.top) == pytest.approx(1.0, abs=1e-5)  # top=40: every survivor
    assert stages[-1].top[0].prob == pytest.approx(float(want.probs.max()))


def test_candidates_with_exactly_equal_probabilities_keep_the_vocabulary_order() -> None:
    logits = torch.randn(40, generator=torch.Generator().manual_seed(1151729)) * 3  # ids 14 and 39 tie exactly
    assert logits[14] == logits[39]
    stages, _ = pipeline(logits, SamplingParams(), [], CHARS, top=40, generator=torch.Generator().manual_seed(0))
    ids = [c.id for c in stages[0].top]
    assert ids.index(14) == ids.index(39) - 1  # side by side, the lower id first, every time


def test_temperature_zero_leaves_one_bar_at_100_percent() -> None:
    logits = torch.randn(40, generator=torch.Generator().manual_seed(1))
    params = SamplingParams(temperature=0.0, top_k=5, top_p=0.5)
    stages, drawn = pipeline(logits, params, [], CHARS, top=10)
    last = stages[-1]
    assert last.name == "draw" and last.kept == 1
    assert [(c.id, c.prob) for c in last.top] == [(int(logits.argmax()), 1.0)] and drawn.id == int(logits.argmax())
    assert stages[0].kept == 40 and len(stages[0].top) == 10
    assert not any(s.on for s in stages if s.name in ("top_k", "top_p", "min_p"))  # greedy stops there


def test_each_knob_reshapes_its_own_row() -> None:
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0, -1.0])
    params = SamplingParams(temperature=0.5, top_k=4, top_p=0.9, min_p=0.2, repetition_penalty=2.0)
    stages, _ = pipeline(logits, params, [0], list("abcdef"), top=6, actual=0)
    by = {s.name: s for s in stages}
    assert by["raw"].top[0].text == "a" and by["penalty"].top[0].text == "b"  # 4 / 2 = 2 < 3
    assert by["temperature"].top[0].prob > by["penalty"].top[0].prob  # sharper
    assert by["top_k"].kept == 4 and by["top_p"].kept < 4
    assert by["raw"].actual == pytest.approx(float(torch.softmax(logits, -1)[0]))
    assert by["draw"].actual == by["min_p"].actual


def test_nothing_after_the_position_changes_its_explanation(make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=8)
    params = SamplingParams(temperature=0.9, top_k=10, repetition_penalty=1.2)
    a = explain(model, CHARS, IDS, 9, params, seed=4)
    b = explain(model, CHARS, IDS[:10] + [0, 1, 2], 9, params, seed=4)
    assert a.attention == b.attention and a.start == 2  # the last block_size (8) characters
    assert a.stages[0].top == b.stages[0].top and a.drawn == b.drawn
    assert a.actual is not None and b.actual is not None and a.actual.id == IDS[10] and b.actual.id == 0
    assert a.attention is not None and all(len(head) == 8 for layer in a.attention for head in layer)


def test_a_window_outside_what_the_position_can_see_is_refused(make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=8)
    with pytest.raises(ValueError, match="outside the window"):
        explain(model, CHARS, IDS, 9, SamplingParams(), start=1)
    with pytest.raises(ValueError, match="outside the 12 ids"):
        explain(model, CHARS, IDS, 12, SamplingParams())


@pytest.mark.parametrize("keep", [3, 15])
def test_every_generated_character_is_explained_as_it_was_drawn_past_cache_shifts(
    tiny_generator, tiny_tokenizer, keep: int
) -> None:
    params = SamplingParams(temperature=0.9, top_k=12, top_p=0.95, repetition_penalty=1.3, max_new_tokens=40)
    request = GenerationRequest("明月几时有", params, seed=5, context_keep=keep)
    events = list(tiny_generator.stream(request))
    assert any(e.shifted for e in events)  # block_size 16: past it, the window moved
    ids = tiny_tokenizer.encode("明月几时有").ids + [e.id for e in events]
    for e in events:
        start = e.position - e.cache_len
        got = explain(tiny_generator.model, tiny_tokenizer.chars, ids, e.position - 1, params, start)
        assert got.actual is not None and got.actual.id == e.id
        assert got.actual.prob == pytest.approx(math.exp(e.logprob), abs=1e-4)
        assert got.stages[-1].actual == pytest.approx(e.warped_prob, abs=1e-4)  # the penalty's history too
    starts = {e.position - e.cache_len for e in events}
    assert len(starts) > 1 and max(starts) > 0


def test_explain_runs_in_the_models_dtype_and_device(make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=8).to(torch.bfloat16)
    e = explain(model, CHARS, IDS, 5, replace(SamplingParams(), temperature=1.0))
    assert e.attention is not None
    assert all(abs(sum(head) - 1.0) < 2e-2 for layer in e.attention for head in layer)
