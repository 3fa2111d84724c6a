"""The TUI on the tutorial's layouts and on a nanoGPT checkpoint: a real engine child process
loads the file (the layout is detected there), the header names the layout, and a greedy reply is
the original script's own greedy loop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from babygpt_tui.api import Load, SamplingParams
from babygpt_tui.ui.app import BabyGPTApp
from babygpt_tui.ui.engine_client import ChildProcess, engine_env
from tests.engine.layout_reference import (
    greedy,
    nanogpt_logits,
    nanogpt_state_dict,
    save_nanogpt,
    tutorial_logits,
    tutorial_state_dict,
)
from tests.plugins.pilot import finished, ready, send

PROMPT = "明月"
NEW = 6  # prompt + reply stay inside the tiny models' block of 8: no cache shift, exact greedy


def child_app(load: Load) -> BabyGPTApp:
    command = [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio"]
    params = SamplingParams(temperature=0.0, max_new_tokens=NEW)
    return BabyGPTApp(load, lambda: ChildProcess(command, engine_env(1)), params=params)


async def reply_of(load: Load) -> tuple[str, str]:
    app = child_app(load)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, PROMPT)
        await finished(pilot)
        return app.chat.turns[0].reply, str(app.sub_title)


@pytest.mark.parametrize("layout", ["v1", "v3", "v5", "v9", "v12"])
async def test_the_tui_chats_on_a_tutorial_checkpoint(tmp_path: Path, tiny_corpus: str, tiny_tokenizer, layout) -> None:
    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus, encoding="utf-8")
    sd = tutorial_state_dict(layout, tiny_tokenizer.vocab_size)
    torch.save(sd, tmp_path / "model.pth")
    load = Load(str(tmp_path / "model.pth"), vocab_from=str(corpus), device="cpu", dtype="float32", threads=1)
    reply, header = await reply_of(load)
    ids, _ = greedy(lambda ids: tutorial_logits(layout, sd, ids), tiny_tokenizer.encode(PROMPT).ids, NEW)
    assert reply == tiny_tokenizer.decode(ids)
    assert "model.pth" in header


async def test_the_tui_chats_on_a_nanogpt_checkpoint(tmp_path: Path, tiny_tokenizer) -> None:
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=True)
    ckpt = save_nanogpt(tmp_path / "out-char", sd, n_head=4, chars=tiny_tokenizer.chars)
    reply, _ = await reply_of(Load(str(ckpt), device="cpu", dtype="float32", threads=1))
    ids, _ = greedy(lambda ids: nanogpt_logits(sd, ids, n_head=4), tiny_tokenizer.encode(PROMPT).ids, NEW)
    assert reply == tiny_tokenizer.decode(ids)
