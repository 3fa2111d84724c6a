"""The canonical model: its fused attention is the per-head computation, its one decode path
writes through the KV cache and matches the full forward for every combination of parts."""

import math
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from babygpt_tui.engine.kvcache import KVCache, attention_dtype
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict
from babygpt_tui.engine.model import BabyGPT, ModelConfig


def reference_logits(model: BabyGPT, idx: torch.Tensor) -> torch.Tensor:
    """The default (v9) computation written out per head, from the fused weights."""
    T, C, H = idx.shape[1], model.config.n_embd, model.config.n_head
    D = C // H
    tril = torch.tril(torch.ones(T, T))
    assert model.pos_emb is not None and model.ln_f is not None
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(T))
    for block in model.layers():
        assert block.ln1 is not None and block.ln2 is not None and block.mlp is not None
        h = block.ln1(x)
        wq, wk, wv = block.attn.qkv.weight.split(C)
        outs = []
        for n in range(H):
            rows = slice(n * D, (n + 1) * D)
            k, q, v = h @ wk[rows].T, h @ wq[rows].T, h @ wv[rows].T
            wei = q @ k.transpose(-2, -1) / (k.size(-1) ** 0.5)
            wei = wei.masked_fill(tril == 0, float("-inf"))
            outs.append(F.softmax(wei, dim=-1) @ v)
        assert block.attn.proj is not None
        x = x + block.attn.proj(torch.cat(outs, dim=-1))
        x = x + block.mlp(block.ln2(x))
    return model.lm_head(model.ln_f(x))


def test_fused_attention_matches_per_head_reference(make_tiny_model) -> None:
    model = make_tiny_model(50, block_size=16, n_embd=32, n_head=4, n_layer=3)
    idx = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = model(idx)
        ref = reference_logits(model, idx)
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()


PARTS = {name: LAYOUTS[name].parts for name in ("v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "nanogpt")} | {
    "nanogpt-no-bias": {**LAYOUTS["nanogpt"].parts, "bias": False, "qkv_bias": False, "tie_embeddings": True}
}


def parts_model(name: str, dtype: torch.dtype = torch.float32) -> BabyGPT:
    parts = dict(PARTS[name])
    parts.setdefault("n_layer", 2)
    if name.startswith("nanogpt"):
        parts.setdefault("qkv_bias", True)
        parts.setdefault("tie_embeddings", True)
    cfg = replace(ModelConfig(vocab_size=40, block_size=12, n_embd=32, n_head=4), **parts)
    torch.manual_seed(0)
    model = BabyGPT(cfg)
    with torch.no_grad():  # PyTorch's default init, but visible biases and LayerNorm weights
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval().to(dtype)


@pytest.mark.parametrize("name", list(PARTS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("crop", [True, False], ids=["filled-part", "whole-cache"])
def test_the_flat_decode_step_matches_the_full_forward_for_every_layout(
    name: str, dtype: torch.dtype, crop: bool
) -> None:
    """Both ways of attending: over the cache's filled part (eager steps) and over the whole
    buffer with later positions masked (the compiled step's one shape)."""
    model = parts_model(name)
    ids = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full, _ = model(ids)
        model = model.to(dtype).fuse()
        cache = KVCache.for_model(model)
        cache.kv.fill_(1e4)  # stale keys/values past the written positions must not count
        model(ids[:, :4], cache=cache)
        steps = [model.decode_step(ids[:, t : t + 1], cache, t, t + 1 if crop else None) for t in range(4, 12)]
    got = torch.stack(steps).float()
    tol = 1e-4 if dtype is torch.float32 else 0.15  # bf16 weights: ~3 significant digits
    assert torch.allclose(got, full[0, 4:], atol=tol), (got - full[0, 4:]).abs().max()


def test_decode_writes_the_cache_through_update_exactly_as_a_prefill_does(make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=12).fuse()
    ids = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(2))
    stepped, prefilled = KVCache.for_model(model), KVCache.for_model(model)
    with torch.inference_mode():
        model(ids[:, :1], cache=stepped)
        for t in range(1, 12):
            model.decode_step(ids[:, t : t + 1], stepped, t)
        model(ids, cache=prefilled)
    assert torch.allclose(stepped.k, prefilled.k, atol=1e-5) and torch.allclose(stepped.v, prefilled.v, atol=1e-5)


def test_a_cpu_cache_is_float32_whatever_the_weights(make_tiny_model) -> None:
    """One-query attention in bf16 took twice float32's time on a CPU: the cache (and the
    step's attention) stay float32 there, and keep the activations' dtype elsewhere."""
    assert attention_dtype(torch.device("cpu"), torch.bfloat16) is torch.float32
    assert attention_dtype(torch.device("cuda"), torch.bfloat16) is torch.bfloat16
    model = make_tiny_model(40, block_size=12).to(torch.bfloat16).fuse()
    assert KVCache.for_model(model).kv.dtype is torch.float32 and model._mask.dtype is torch.float32


def test_write_step_returns_the_filled_part_or_the_whole_buffer() -> None:
    cache = KVCache(n_layer=1, n_head=2, head_size=4, block_size=10)
    kv = torch.ones(2, 2, 1, 4)
    keys, values = cache.write_step(0, torch.tensor([3]), kv, 4)
    assert keys.shape == values.shape == (2, 4, 4) and bool((keys[:, 3] == 1).all()) and bool((keys[:, :3] == 0).all())
    keys, _ = cache.write_step(0, torch.tensor([4]), kv)
    assert keys.shape == (2, 10, 4) and bool((keys[:, 4] == 1).all())


def test_cache_update_returns_views_up_to_the_written_position() -> None:
    cache = KVCache(n_layer=2, n_head=3, head_size=4, block_size=10)
    k, v = torch.ones(3, 1, 4), torch.full((3, 1, 4), 2.0)
    keys, values = cache.update(1, 5, k, v)
    assert keys.shape == (3, 6, 4) and bool((keys[:, 5] == 1).all()) and bool((values[:, :5] == 0).all())
    assert bool((cache.v[1, 0, :, 5] == 2).all()) and bool((cache.k[0] == 0).all())
    keys4, _ = cache.update(0, 0, torch.ones(1, 3, 2, 4), torch.ones(1, 3, 2, 4))
    assert keys4.shape == (1, 3, 2, 4)
    with pytest.raises(ValueError, match="batch-1"):
        KVCache(1, 1, 4, 8, batch=2).update(0, 0, k[:1], v[:1])


def test_positions_past_block_size_are_refused_not_indexed(make_tiny_model) -> None:
    model = make_tiny_model(10, block_size=8)
    with pytest.raises(ValueError, match="exceed block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_parameter_names_are_our_own(make_tiny_model) -> None:
    keys = set(make_tiny_model(10, n_layer=1, n_head=2).state_dict())
    assert keys == {
        "tok_emb.weight",
        "pos_emb.weight",
        "blocks.0.ln1.weight",
        "blocks.0.ln1.bias",
        "blocks.0.attn.qkv.weight",
        "blocks.0.attn.proj.weight",
        "blocks.0.attn.proj.bias",
        "blocks.0.ln2.weight",
        "blocks.0.ln2.bias",
        "blocks.0.mlp.fc1.weight",
        "blocks.0.mlp.fc1.bias",
        "blocks.0.mlp.fc2.weight",
        "blocks.0.mlp.fc2.bias",
        "ln_f.weight",
        "ln_f.bias",
        "lm_head.weight",
        "lm_head.bias",
    }


def test_optional_parts_are_absent_not_stubbed() -> None:
    model = parts_model("v1")
    assert set(model.state_dict()) == {"tok_emb.weight", "lm_head.weight", "lm_head.bias"}
    v5 = parts_model("v5")
    assert {k for k in v5.state_dict() if k.startswith("blocks.0.")} == {
        "blocks.0.attn.qkv.weight",
        "blocks.0.mlp.fc1.weight",
        "blocks.0.mlp.fc1.bias",
    }


def test_a_tied_head_is_one_parameter() -> None:
    model = parts_model("nanogpt")
    assert model.lm_head.weight is model.tok_emb.weight
    untied = replace(model.config, tie_embeddings=False)
    assert model.num_params() == BabyGPT(untied).num_params() - 40 * 32
    assert model.to(torch.bfloat16).lm_head.weight is model.tok_emb.weight


def test_training_loss_starts_near_uniform() -> None:
    torch.manual_seed(0)
    model = BabyGPT(ModelConfig(vocab_size=64, block_size=8, n_embd=16, n_layer=1, n_head=2))
    model.init_weights(0)
    x = torch.randint(0, 64, (4, 8))
    with torch.no_grad():
        _, loss = model(x, x)
    assert abs(float(loss) - math.log(64)) < 0.3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_embd": 30, "n_head": 4}, "divisible"),
        ({"mlp_layers": 3}, "mlp_layers"),
        ({"activation": "tanh"}, "relu or gelu"),
        ({"n_layer": 5000}, "n_layer"),
        ({"mlp_layers": 1, "ffn_hidden": 64}, "one-layer"),
    ],
)
def test_config_rejects_what_no_model_has(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ModelConfig(vocab_size=10, **kwargs)


def test_a_seed_draws_the_weights_in_the_tutorials_parameter_order() -> None:
    # `train --seed S` must give the model it gave before the heads were fused (the bundled
    # model's recipe): the draws follow the v9 parameters' order, per head key, query, value.
    cfg = ModelConfig(vocab_size=30, block_size=8, n_embd=16, n_layer=2, n_head=4)
    model = BabyGPT(cfg)
    model.init_weights(5)
    gen, small = torch.Generator().manual_seed(5), 0.02 / math.sqrt(2 * 2)
    want = {"token_embedding_table.weight": torch.empty(30, 16).normal_(0, 0.02, generator=gen)}
    want["postion_embedding_table.weight"] = torch.empty(8, 16).normal_(0, 0.02, generator=gen)
    for i in range(2):
        for h in range(4):
            for part in ("key", "query", "value"):
                want[f"blocks.{i}.sa.heads.{h}.{part}.weight"] = torch.empty(4, 16).normal_(0, 0.02, generator=gen)
        want[f"blocks.{i}.sa.proj.weight"] = torch.empty(16, 16).normal_(0, small, generator=gen)
        want[f"blocks.{i}.ffwd.net.0.weight"] = torch.empty(64, 16).normal_(0, 0.02, generator=gen)
        want[f"blocks.{i}.ffwd.net.2.weight"] = torch.empty(16, 64).normal_(0, small, generator=gen)
    want["lm_head.weight"] = torch.empty(30, 16).normal_(0, 0.02, generator=gen)
    got = export_state_dict(model, LAYOUTS["v9"])
    assert all(torch.equal(got[k], v) for k, v in want.items())
    assert all(
        bool((got[k] == (1.0 if k.endswith("ln1.weight") or k.endswith("ln2.weight") else 0.0)).all())
        for k in got
        if k.endswith(".bias") or k.endswith("ln1.weight") or k.endswith("ln2.weight")
    )
