"""The fused q/k/v + SDPA model must compute exactly what the original per-head BabyGPT does."""

import math

import pytest
import torch
from torch.nn import functional as F

from babygpt_tui.engine.kvcache import KVCache
from babygpt_tui.engine.model import BabyGPT, ModelConfig


def reference_logits(model: BabyGPT, idx: torch.Tensor) -> torch.Tensor:
    """The upstream computation, written out per head (as in the original BabyGPT `Head`)."""
    B, T = idx.shape
    tril = torch.tril(torch.ones(T, T))
    x = model.token_embedding_table(idx) + model.postion_embedding_table(torch.arange(T))
    for block in model.blocks:
        h = block.ln1(x)
        outs = []
        for head in block.sa.heads:
            k, q, v = head.key(h), head.query(h), head.value(h)
            wei = q @ k.transpose(-2, -1) / (k.size(-1) ** 0.5)
            wei = wei.masked_fill(tril == 0, float("-inf"))
            outs.append(F.softmax(wei, dim=-1) @ v)
        x = x + block.sa.proj(torch.cat(outs, dim=-1))
        x = x + block.ffwd(block.ln2(x))
    return model.lm_head(model.ln_final(x))


@pytest.mark.parametrize("fused", [False, True])
def test_fused_attention_matches_per_head_reference(fused: bool, make_tiny_model) -> None:
    model = make_tiny_model(50, block_size=16, n_embd=32, n_head=4, n_layer=3)
    if fused:
        model.fuse()
    idx = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = model(idx)
        ref = reference_logits(model, idx)
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()


def test_cached_decode_matches_full_forward(make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=12).fuse()
    ids = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(2))
    cache = KVCache.for_model(model)
    with torch.inference_mode():
        full, _ = model(ids)
        first, _ = model(ids[:, :5], cache=cache, pos=0)
        steps = [model(ids[:, t : t + 1], cache=cache, pos=t)[0] for t in range(5, 12)]
    got = torch.cat([first] + steps, dim=1)
    assert torch.allclose(got, full, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_flat_decode_step_matches_the_full_forward(dtype: torch.dtype, make_tiny_model) -> None:
    model = make_tiny_model(40, block_size=12, n_embd=32, n_head=4, n_layer=2)
    ids = torch.randint(0, 40, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full, _ = model.eval()(ids)
        model = model.to(dtype).fuse()
        cache = KVCache.for_model(model)
        model(ids[:, :4], cache=cache, pos=0)
        steps = [model.decode_step(ids[:, t : t + 1], cache, t) for t in range(4, 12)]
    got = torch.stack(steps).float()
    tol = 1e-4 if dtype is torch.float32 else 0.15  # bf16 weights: ~3 significant digits
    assert torch.allclose(got, full[0, 4:], atol=tol), (got - full[0, 4:]).abs().max()


def test_positions_past_block_size_are_refused_not_indexed(make_tiny_model) -> None:
    model = make_tiny_model(10, block_size=8)
    with pytest.raises(ValueError, match="exceed block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_state_dict_keys_are_the_upstream_names(make_tiny_model) -> None:
    keys = set(make_tiny_model(10, n_layer=1, n_head=2).state_dict())
    assert {
        "token_embedding_table.weight",
        "postion_embedding_table.weight",
        "blocks.0.sa.heads.1.query.weight",
        "blocks.0.sa.proj.bias",
        "blocks.0.ffwd.net.0.weight",
        "blocks.0.ffwd.net.2.bias",
        "blocks.0.ln1.weight",
        "ln_final.bias",
        "lm_head.weight",
    } <= keys


def test_training_loss_starts_near_uniform() -> None:
    torch.manual_seed(0)
    model = BabyGPT(ModelConfig(vocab_size=64, block_size=8, n_embd=16, n_layer=1, n_head=2))
    model.init_weights(0)
    x = torch.randint(0, 64, (4, 8))
    with torch.no_grad():
        _, loss = model(x, x)
    assert abs(float(loss) - math.log(64)) < 0.3


def test_config_rejects_heads_that_do_not_divide_width() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(vocab_size=10, n_embd=30, n_head=4)
