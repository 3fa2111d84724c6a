"""Tiny training runs: one set of dimensions for `Trainer` in this process and one set of `train`
flags for a subprocess (smaller still: it pays the start-up too), and the corpus they read."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_TRAIN = dict(
    preset="tiny",
    block_size=16,
    n_embd=32,
    n_layer=1,
    n_head=2,
    batch_size=8,
    dropout=0.0,
    lr=3e-3,
    warmup_iters=5,
    eval_iters=2,
    val_fraction=0.25,
    device="cpu",
)

TINY_MODEL_FLAGS = [
    *("--preset", "tiny", "--block-size", "16", "--n-embd", "16", "--n-layer", "1", "--n-head", "2"),
    *("--batch-size", "4"),
]
TINY_TRAIN_FLAGS = [*TINY_MODEL_FLAGS, "--eval-iters", "1", "--val-fraction", "0.25", "--device", "cpu"]


@pytest.fixture
def train_corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus * 3, encoding="utf-8")
    return path
