"""Device and dtype resolution: explicit names, errors, and what `auto` measures."""

from __future__ import annotations

import pytest
import torch

from babygpt_tui.engine.device import decode_weight_shapes, resolve_device, resolve_dtype
from babygpt_tui.engine.errors import DeviceError
from babygpt_tui.engine.model import BabyGPT, ModelConfig


def test_the_auto_benchmark_multiplies_by_exactly_the_models_weight_matrices() -> None:
    cfg = ModelConfig(vocab_size=50, block_size=16, n_embd=24, n_layer=3, n_head=4)
    model = BabyGPT(cfg)
    matrices = sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and "emb" not in name)
    assert sum(a * b for a, b in decode_weight_shapes(cfg.n_embd, cfg.n_layer, cfg.vocab_size)) == matrices


def test_explicit_dtypes_and_aliases() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("float32", cpu) is torch.float32
    assert resolve_dtype("bf16", cpu) is torch.bfloat16
    assert resolve_dtype("int8", cpu) is torch.int8
    assert resolve_dtype("auto", cpu, (16, 1, 10)) in (torch.float32, torch.bfloat16, torch.int8)
    with pytest.raises(DeviceError, match="unknown dtype 'int4'"):
        resolve_dtype("int4", cpu)


def test_unavailable_devices_are_user_errors() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA"):
            resolve_device("cuda")
