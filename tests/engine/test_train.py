"""Training a tiny model for a few steps: loss falls, resume continues, the file loads."""

import json
from pathlib import Path

import pytest

from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.errors import DataError
from babygpt_tui.engine.train import TrainConfig, Trainer, resume_path
from tests.plugins.training import TINY_TRAIN

DIMS = dict(TINY_TRAIN, eval_interval=10)


def make(train_corpus: Path, out: Path, **kw) -> Trainer:
    return Trainer(TrainConfig(data=str(train_corpus), out=str(out), **{**DIMS, **kw}))


def test_loss_falls_and_saved_model_loads(train_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run" / "m.safetensors"
    losses = []
    trainer = make(train_corpus, out, max_iters=60)
    trainer.report = lambda p: losses.append(p.train_loss)
    trainer.run()
    assert losses[-1] < losses[0] - 1.0
    loaded = load_checkpoint(out)
    assert loaded.tokenizer.chars == trainer.tokenizer.chars
    assert loaded.model.config.n_embd == 32
    assert json.loads(loaded.metadata["train"])["iter"] <= 60
    records = [json.loads(line) for line in (out.parent / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["iter"] == 60 and any(r["val_loss"] is not None for r in records)


def test_stop_saves_and_resume_continues_from_saved_step(train_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    first = make(train_corpus, out, max_iters=40)

    def stop_at_13(p) -> None:
        if p.iter >= 13:
            first.request_stop()

    first.report = stop_at_13
    first.run()
    # Reports come every 10 steps: asked at the 20th, the run stops after the next (every
    # process agrees on that step) and saves there.
    assert first.iter == 21 and first.saved_iter == 21
    assert resume_path(out).exists()
    second = make(train_corpus, out, max_iters=40, resume=True)
    assert second.iter == first.iter and second.tokens_seen == first.tokens_seen
    assert second.opt.state_dict()["state"]  # the optimizer moments came back too
    second.run()
    assert second.iter == 40


def test_resume_with_other_dimensions_is_refused(train_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    make(train_corpus, out, max_iters=10).run()
    with pytest.raises(DataError, match="other dimensions"):
        make(train_corpus, out, max_iters=20, n_embd=64, resume=True)


def test_starting_over_would_overwrite_a_resumable_run(train_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    make(train_corpus, out, max_iters=10).run()
    with pytest.raises(DataError, match="--resume"):
        make(train_corpus, out, max_iters=10)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(max_iters=None), "--max-iters"),
        (dict(max_iters=10, lr=-1.0), "--lr"),
        (dict(max_iters=10, batch_size=0), "--batch-size"),
        (dict(max_iters=10, preset="huge"), "preset"),
        (dict(max_iters=10, n_embd=30, n_head=4), "divisible"),
        (dict(max_iters=10, block_size=100000), "block_size"),
    ],
)
def test_bad_settings_are_one_line_errors(train_corpus: Path, tmp_path: Path, kw: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        make(train_corpus, tmp_path / "m.safetensors", **kw)
