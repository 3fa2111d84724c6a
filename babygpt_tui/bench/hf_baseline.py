"""HF transformers baseline: `GPT2LMHeadModel.generate` with BabyGPT's dimensions.

GPT-2 is the same architecture as BabyGPT (pre-LayerNorm blocks, learned absolute positions,
fused qkv, 4x MLP), so with `activation_function="relu"` and the same sizes it reads the same
amount of weights per token. Random weights: only speed is compared. Differences that do not
move the speed: GPT-2's q/k/v have a bias, its lm_head has none (we untie it so it is a separate
V x C matrix like ours).

transformers is an optional extra (`pip install -e '.[bench]'`); without it `build_hf_model`
raises `HFUnavailable` and the bench row says how to install it.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..engine.model import ModelConfig

SKIP_NOTE = "skipped: pip install -e '.[bench]'"


class HFUnavailable(RuntimeError):
    pass


def transformers_version() -> str | None:
    try:
        import transformers
    except ImportError:
        return None
    return str(transformers.__version__)


def gpt2_config(cfg: ModelConfig) -> Any:
    try:
        from transformers import GPT2Config
    except ImportError as e:
        raise HFUnavailable(SKIP_NOTE) from e
    return GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_inner=cfg.hidden,
        activation_function="relu",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=False,
        # No special tokens: nothing may stop generation early or be treated as padding.
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )


def build_hf_model(
    cfg: ModelConfig, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0
) -> Any:
    config = gpt2_config(cfg)  # raises HFUnavailable without transformers
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    # Any: transformers' own (partial) type hints reject this call under some versions
    model_class: Any = GPT2LMHeadModel
    return model_class(config).to(device=device, dtype=dtype).eval()


class _Stamps:
    """A generate() streamer that only records when each new token arrived.

    generate() first puts the prompt, then each new token as soon as it is chosen (on CPU and
    CUDA; transformers defers streaming by one step only on MPS)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def hf_generate(model: Any, ids: list[int], n: int) -> tuple[list[int], list[float]]:
    """Greedy, KV-cached generation of exactly n tokens; returns them and when each was ready."""
    device = model.lm_head.weight.device
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    stamps = _Stamps()
    out = model.generate(
        idx,
        attention_mask=torch.ones_like(idx),
        do_sample=False,
        use_cache=True,
        max_new_tokens=n,
        min_new_tokens=n,
        pad_token_id=0,
        streamer=stamps,
    )
    return out[0, len(ids) :].tolist(), stamps.times
