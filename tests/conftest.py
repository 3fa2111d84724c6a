"""Shared fixtures: tiny models built in memory, so the whole suite stays fast on 2 cores."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import pytest

# ui_helpers (the recording backend wrapper) serves tests/ui and tests/reliability alike.
sys.path.insert(0, str(Path(__file__).parent / "ui"))

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


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never touch the real config or sessions: BABYGPT_TUI_HOME relocates everything."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BABYGPT_TUI_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_corpus() -> str:
    return TINY_CORPUS


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_corpus: str):
    from babygpt_tui.engine.tokenizer import CharTokenizer

    return CharTokenizer.from_text(tiny_corpus)


def make_tiny_model(vocab_size: int, block_size: int = 16, n_embd: int = 32, n_layer: int = 2, n_head: int = 4, seed: int = 0):
    import torch

    from babygpt_tui.engine.model import BabyGPT, ModelConfig

    torch.manual_seed(seed)
    model = BabyGPT(ModelConfig(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_layer=n_layer, n_head=n_head))
    model.init_weights(seed)
    # Larger-than-default weights so the random model has peaked, seed-sensitive distributions.
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    return model.eval()


@pytest.fixture
def tiny_model(tiny_tokenizer):
    return make_tiny_model(tiny_tokenizer.vocab_size)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model, tiny_tokenizer) -> Path:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    return save_checkpoint(tmp_path / "tiny.safetensors", tiny_model, tiny_tokenizer)


@pytest.fixture
def tiny_generator(tiny_model, tiny_tokenizer):
    from babygpt_tui.engine.generate import Generator

    return Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", name="tiny")


def pytest_configure(config: pytest.Config) -> None:
    # One torch thread per test process: tiny models gain nothing from more, and CI has 2 cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# -- the app on the tiny model, for tests/ui and tests/reliability


@pytest.fixture
def backend(tiny_generator) -> "WrappedBackend":
    from ui_helpers import WrappedBackend

    return WrappedBackend(tiny_generator)


@pytest.fixture
def make_app(backend) -> Callable:
    """`make_app(params=..., **options)` → a BabyGPTApp whose loader returns the wrapped tiny model."""
    from babygpt_tui.api import SamplingParams
    from babygpt_tui.ui.app import BabyGPTApp
    from ui_helpers import Options

    def make(params: SamplingParams | None = None, start=None, **options) -> BabyGPTApp:
        """`start`: the app's StartOptions (config defaults, --session, autosave)."""
        backend.options = Options(**options)
        return BabyGPTApp(loader=lambda: backend, model_path="tiny.safetensors", params=params, options=start)

    return make
