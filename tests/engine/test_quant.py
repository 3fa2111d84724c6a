"""int8 weight-only models (`--dtype int8`) and `--dtype auto`'s quality check."""

import copy

import pytest
import torch
from torch.nn import functional as F

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.engine import autodtype
from babygpt_tui.engine.generate import Generator
from babygpt_tui.engine.kvcache import KVCache
from babygpt_tui.engine.quant import Int8Linear, is_quantized, quantize_int8, quantize_rows
from tests.engine.test_model import PARTS, parts_model

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=40)


def test_rows_are_quantized_symmetrically_within_half_a_step() -> None:
    w = torch.randn(7, 33) * torch.linspace(0.01, 3, 7)[:, None]
    w[3] = 0.0  # an all-zero row must not divide by zero
    q, scale = quantize_rows(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127
    assert bool((q[3] == 0).all())
    assert bool(((q.float() * scale[:, None] - w).abs() <= scale[:, None] / 2 + 1e-7).all())


def test_an_int8_linear_is_its_dequantized_weight_with_bf16_activations() -> None:
    linear = torch.nn.Linear(48, 20)
    q8 = Int8Linear(linear)
    x = torch.randn(2, 5, 48)
    want = F.linear(x.bfloat16().float(), q8.dequantized(), linear.bias)
    got = q8(x)
    assert got.shape == (2, 5, 20) and got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), want, atol=0.05, rtol=0.02)


@pytest.mark.parametrize("name", list(PARTS))
def test_the_int8_decode_step_matches_the_int8_forward_for_every_layout(name: str) -> None:
    """One decode path: the int8 step is the int8 model's own forward, token by token."""
    model = quantize_int8(parts_model(name)).eval().fuse()
    assert is_quantized(model) and model.lm_head.weight.dtype == torch.int8
    ids = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full, _ = model(ids)
        cache = KVCache.for_model(model)
        assert cache.k.dtype == torch.float32  # attention in float32 on a CPU (attention_dtype)
        model(ids[:, :4], cache=cache)
        steps = torch.stack([model.decode_step(int(ids[0, t]), cache, t) for t in range(4, 12)])
    # the same kernels and a float32 attention in both: equal here, within a bf16 rounding anywhere
    # (the tolerance was 0.15 while the forward attended in bf16)
    assert torch.allclose(steps.float(), full[0, 4:].float(), atol=0.02), (steps.float() - full[0, 4:]).abs().max()


def test_an_int8_generator_decodes_like_float32_and_keeps_no_float32_copy(tiny_model, tiny_tokenizer) -> None:
    fp32 = Generator(copy.deepcopy(tiny_model), tiny_tokenizer, device="cpu", dtype="float32")
    int8 = Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="int8")
    assert int8.info.dtype == "int8" and int8._prefill_model is None
    assert int8.info.n_params == fp32.info.n_params  # the checkpoint's count, not the scales' too
    blocks = int8.model.layers()
    assert blocks and isinstance(int8.model.lm_head, Int8Linear)
    assert all(isinstance(b.attn.qkv, Int8Linear) and isinstance(b.attn.proj, Int8Linear) for b in blocks)
    assert all(b.mlp is not None and isinstance(b.mlp.fc1, Int8Linear) for b in blocks)
    assert all(m.weight.dtype == torch.int8 for m in int8.model.modules() if isinstance(m, Int8Linear))

    def run(gen: Generator) -> list[tuple[int, float]]:
        r = gen.stream(GenerationRequest("明月", GREEDY, seed=0))
        return [(e.id, e.logprob) for e in r]

    a, b = run(fp32), run(int8)
    agree = sum(x[0] == y[0] for x, y in zip(a, b, strict=True)) / len(a)
    assert agree >= 0.8, agree
    first = a[0][1], b[0][1]
    assert abs(first[0] - first[1]) < 0.05
    # past block_size: cache shifts re-prefill through the int8 forward
    long = int8.stream(GenerationRequest("明", SamplingParams(max_new_tokens=3 * int8.block_size), seed=1))
    assert len(list(long)) == 3 * int8.block_size and long.stats is not None and long.stats.shifts > 0


def test_auto_checks_the_quality_of_a_faster_dtype_on_the_models_own_sample(tiny_model, monkeypatch) -> None:
    cfg = tiny_model.config
    shape = (cfg.n_embd, cfg.n_layer, cfg.vocab_size)
    monkeypatch.setattr(autodtype, "cpu_dtypes_fastest_first", lambda _shape: ["int8", "bfloat16", "float32"])
    choice = autodtype.choose_cpu_dtype(tiny_model, shape)
    assert choice.deltas and abs(choice.deltas["int8"]) < 0.5
    assert (choice.dtype is torch.int8) is (choice.deltas["int8"] <= autodtype.NLL_BOUND)
    monkeypatch.setattr(autodtype, "NLL_BOUND", -1.0)  # nothing is good enough: float32
    strict = autodtype.choose_cpu_dtype(tiny_model, shape)
    assert strict.dtype is torch.float32 and set(strict.deltas) == {"int8", "bfloat16"}
    assert "int8" in strict.describe()
    ids = autodtype.probe_ids(copy.deepcopy(tiny_model).float().fuse())
    assert len(ids) == min(autodtype.PROBE_TOKENS, cfg.block_size) and ids == autodtype.probe_ids(
        copy.deepcopy(tiny_model).float().fuse()
    )
