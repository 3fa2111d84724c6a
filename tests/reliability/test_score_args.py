"""`score` flags: a stride of 0 is an error, not silently the default; a block_size-1 model is
scored (stride 1) instead of blaming a --stride nobody passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from babygpt_tui.cli import main


@pytest.fixture
def corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "poems.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


@pytest.mark.parametrize("stride", ["0", "-3"])
def test_a_stride_below_one_is_one_line(corpus: Path, tiny_checkpoint: Path, capsys, stride: str) -> None:
    assert main(["score", str(corpus), "--model", str(tiny_checkpoint), "--stride", stride]) == 2
    err = capsys.readouterr().err
    assert err == f"babygpt-tui: error: --stride = {stride} must be at least 1 (default: half the model's block_size)\n"


def test_a_stride_past_the_block_size_names_it(corpus: Path, tiny_checkpoint: Path, capsys) -> None:
    assert main(["score", str(corpus), "--model", str(tiny_checkpoint), "--stride", "17"]) == 2
    assert "--stride = 17 is larger than the model's block_size 16" in capsys.readouterr().err


def test_a_block_size_one_model_is_scored_with_stride_one(
    corpus: Path, tmp_path: Path, make_tiny_model, tiny_tokenizer, capsys
) -> None:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    model = make_tiny_model(tiny_tokenizer.vocab_size, block_size=1)
    path = save_checkpoint(tmp_path / "bigram.safetensors", model, tiny_tokenizer)
    assert main(["score", str(corpus), "--model", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"stride": 1' in out and '"scored": ' in out
