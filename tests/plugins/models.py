"""Fixtures for tiny models built in memory (vocab from a few poems, 2 layers x 32 wide), so the
whole suite stays fast on 2 cores. Registered by `tests/conftest.py` as a plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TINY_CORPUS = """浣溪沙 晏殊
一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回？
无可奈何花落去，似曾相识燕归来。小园香径独徘徊。

如梦令 李清照
昨夜雨疏风骤，浓睡不消残酒。试问卷帘人，却道海棠依旧。
知否，知否？应是绿肥红瘦。

水调歌头 苏轼
明月几时有？把酒问青天。不知天上宫阙，今夕是何年。
我欲乘风归去，又恐琼楼玉宇，高处不胜寒。起舞弄清影，何似在人间。

点绛唇 李清照
蹴罢秋千，起来慵整纤纤手。露浓花瘦，薄汗轻衣透。
见客入来，袜刬金钗溜。和羞走，倚门回首，却把青梅嗅。
"""


@pytest.fixture(scope="session")
def tiny_corpus() -> str:
    return TINY_CORPUS


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_corpus: str):
    from babygpt_tui.engine.tokenizer import CharTokenizer

    return CharTokenizer.from_text(tiny_corpus)


def _make_tiny_model(
    vocab_size: int, block_size: int = 16, n_embd: int = 32, n_layer: int = 2, n_head: int = 4, seed: int = 0
):
    import torch

    from babygpt_tui.engine.model import BabyGPT, ModelConfig

    torch.manual_seed(seed)
    model = BabyGPT(
        ModelConfig(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head)
    )
    model.init_weights(seed)
    # Larger-than-default weights so the random model has peaked, seed-sensitive distributions.
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="session")
def make_tiny_model() -> Callable[..., Any]:
    """`make_tiny_model(vocab_size, block_size=16, n_embd=32, n_layer=2, n_head=4, seed=0)` → an
    initialised BabyGPT in eval mode, with peaked (seed-sensitive) output distributions."""
    return _make_tiny_model


@pytest.fixture
def tiny_model(tiny_tokenizer, make_tiny_model):
    return make_tiny_model(tiny_tokenizer.vocab_size)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model, tiny_tokenizer) -> Path:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    return save_checkpoint(tmp_path / "tiny.safetensors", tiny_model, tiny_tokenizer)


@pytest.fixture
def tiny_generator(tiny_model, tiny_tokenizer):
    from babygpt_tui.engine.generate import Generator

    return Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", name="tiny")
