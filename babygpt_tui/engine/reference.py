"""The upstream BabyGPT size (6 x 384 x 6 heads, block 256, its Song-ci vocabulary of 6,148
characters): the shape `--dtype auto` times and the benchmark's random-weight reference model."""

from __future__ import annotations

from .model import ModelConfig

REFERENCE = ModelConfig(vocab_size=6148, block_size=256, n_embd=384, n_layer=6, n_head=6)
