"""The HF baseline has BabyGPT's dimensions; the floor runs and reads exactly the decode weights."""

import pytest
import torch

from babygpt_tui.bench.floor import Floor
from babygpt_tui.bench.timing import decode_rate
from babygpt_tui.engine.model import ModelConfig

TINY = ModelConfig(vocab_size=50, block_size=16, n_embd=32, n_layer=2, n_head=4)


def test_hf_baseline_builds_with_babygpt_dimensions_and_relu_mlp() -> None:
    pytest.importorskip("transformers")
    from babygpt_tui.bench.hf_baseline import build_hf_model

    hf = build_hf_model(TINY)
    c = hf.config
    assert (c.vocab_size, c.n_positions, c.n_embd, c.n_layer, c.n_head) == (50, 16, 32, 2, 4)
    assert c.n_inner == 4 * 32 and c.activation_function == "relu"
    assert tuple(hf.lm_head.weight.shape) == (50, 32)
    assert tuple(hf.transformer.h[0].mlp.c_fc.weight.shape) == (32, 128)  # Conv1D stores (in, out)
    assert tuple(hf.transformer.h[0].attn.c_attn.weight.shape) == (32, 96)


def test_hf_generate_makes_exactly_n_tokens_with_one_stamp_each() -> None:
    pytest.importorskip("transformers")
    from babygpt_tui.bench.hf_baseline import build_hf_model, hf_generate

    ids, stamps = hf_generate(build_hf_model(TINY), [1, 2, 3], 8)
    assert len(ids) == 8 and len(stamps) == 8 and decode_rate(stamps) > 0


def test_hf_missing_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from babygpt_tui.bench import hf_baseline

    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(hf_baseline.HFUnavailable, match=r"pip install -e '\.\[bench\]'"):
        hf_baseline.build_hf_model(TINY)
    assert hf_baseline.transformers_version() is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int8])
def test_floor_runs_and_reads_every_decode_weight_once(dtype: torch.dtype) -> None:
    floor = Floor(TINY, dtype)
    C, H, V = 32, 128, 50
    per_layer = 3 * C * C + C * C + H * C + C * H
    assert floor.bytes_per_step == (2 * per_layer + V * C) * torch.tensor([], dtype=dtype).element_size()
    assert floor.steps_per_s(3) > 0
