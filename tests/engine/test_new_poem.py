"""An empty prompt starts a new poem: generation is conditioned on the corpus's poem boundary (a
blank line), so the bundled Song-ci model writes a `词牌 作者` title line first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from babygpt_tui.api import POEM_BOUNDARY, GenerationRequest, SamplingParams
from babygpt_tui.engine.tokenizer import CharTokenizer

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "assets" / "models" / "songci-small.safetensors"
CORPUS = ROOT / "assets" / "data" / "songci.txt"
# A title line: the tune name and the author, one space apart, no punctuation of a verse.
TITLE = re.compile(r"[^\s，。？！、；：]{1,12} [^\s，。？！、；：]{1,8}")


def test_the_title_shape_fits_the_corpus_title_lines_and_not_its_verses() -> None:
    poems = CORPUS.read_text(encoding="utf-8").split(POEM_BOUNDARY)[:500]
    lines = [p.strip("\n").split("\n") for p in poems if p.strip()]
    assert all(TITLE.fullmatch(p[0]) for p in lines)
    verses = [line for p in lines for line in p[1:]]
    assert sum(bool(TITLE.fullmatch(v)) for v in verses) < len(verses) / 100


def test_the_poem_boundary_is_a_blank_line_where_the_vocabulary_has_a_newline() -> None:
    assert CharTokenizer.from_text("a\nb").start_ids() == [0, 0]
    assert CharTokenizer.from_text("ab").start_ids() == [0]  # no newline: the first id


@pytest.mark.skipif(not BUNDLED.exists(), reason="needs the bundled model")
def test_the_bundled_model_begins_an_empty_prompt_with_a_title_line() -> None:
    from babygpt_tui.engine.generate import Generator

    gen = Generator.load(BUNDLED, device="cpu", dtype="float32")
    firsts = []
    for seed in range(5):
        run = gen.stream(GenerationRequest("", SamplingParams(max_new_tokens=40), seed=seed))
        reply = "".join(event.text for event in run)
        firsts.append(reply.split("\n", 1)[0])
    assert all(TITLE.fullmatch(line) for line in firsts), firsts
