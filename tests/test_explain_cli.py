"""`babygpt-tui explain`: its JSON against `info`, `score` and `generate --json`, every layout, the
text report, and one-line errors for every user mistake."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from babygpt_tui.cli import main
from tests.engine.layout_reference import TUTORIAL, nanogpt_state_dict, save_nanogpt, tutorial_state_dict

TEXT = "明月几时有？把酒问青天。不知天上宫阙，今夕是何年。我欲乘风归去"  # 31 characters, past block_size 16


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def explained(capsys: pytest.CaptureFixture[str], model: Path, *argv: object) -> dict[str, Any]:
    code, out, err = run(capsys, "explain", "--model", model, "--json", "--seed", 1, *argv)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_every_head_is_a_distribution_over_the_positions_seen_and_none_after(capsys, tiny_checkpoint: Path) -> None:
    e = explained(capsys, tiny_checkpoint, "--text", TEXT, "--position", 20)
    assert (e["position"], e["start"]) == (20, 5)  # the last block_size (16) characters up to 20
    assert e["window"] == TEXT[5:21]  # the characters it saw
    weights = e["attention"]
    for layer in weights:
        for head in layer:
            assert len(head) == 16
            assert sum(head) == pytest.approx(1.0, abs=16 * 10**-6)
    # Later characters are not seen: another continuation explains position 20 the same way.
    other = explained(capsys, tiny_checkpoint, "--text", TEXT[:21] + "花落去", "--position", 20)
    assert other["attention"] == weights and other["stages"][0]["top"] == e["stages"][0]["top"]
    assert e["actual"]["text"] == TEXT[21] and other["actual"]["text"] == "花"


def test_as_many_layers_and_heads_as_info_reports(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(capsys, "info", "--model", tiny_checkpoint, "--json")
    info = json.loads(out)
    e = explained(capsys, tiny_checkpoint, "--text", TEXT)
    assert (e["n_layer"], e["n_head"]) == (info["n_layer"], info["n_head"]) == (2, 4)
    assert len(e["attention"]) == info["n_layer"] and {len(layer) for layer in e["attention"]} == {info["n_head"]}
    assert e["position"] == len(TEXT) - 1 and e["actual"] is None  # the default: after the last character


def test_the_actual_characters_probabilities_are_what_score_gives(capsys, tmp_path: Path, tiny_checkpoint) -> None:
    text = tmp_path / "ci.txt"
    text.write_text(TEXT, encoding="utf-8")
    # stride 1: past the first window every character is scored with the last block_size before it,
    # the window explain sees by default
    code, out, _ = run(capsys, "score", text, "--model", tiny_checkpoint, "--stride", 1, "--json")
    score = json.loads(out)
    nll = [
        -math.log(explained(capsys, tiny_checkpoint, "--text", TEXT, "--position", n)["actual"]["prob"])
        for n in range(len(TEXT) - 1)
    ]
    assert score["scored"] == len(nll)
    assert sum(nll) / len(nll) == pytest.approx(score["nll"], abs=1e-4)


def test_every_generated_character_is_explained_with_generates_probability(capsys, tiny_checkpoint: Path) -> None:
    flags = ("--temperature", 0.9, "--top-k", 8, "--repetition-penalty", 1.2, "--seed", 3, "--dtype", "float32")
    code, out, err = run(
        capsys, "generate", "--model", tiny_checkpoint, "--prompt", "明月", "--max-new-tokens", 30, "--json",
        "--context-keep", 4, *flags,
    )  # fmt: skip
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()][:-1]
    assert max(r["window_start"] for r in records) > 0  # past block_size 16 the cache shifted
    text = "明月" + "".join(r["text"] for r in records)
    for r in records:
        e = explained(
            capsys, tiny_checkpoint, "--text", text, "--position", r["position"] - 1,
            "--window-start", r["window_start"], *flags,
        )  # fmt: skip
        assert e["actual"]["text"] == r["text"]
        assert e["actual"]["prob"] == pytest.approx(math.exp(r["logprob"]), abs=1e-4)


def test_temperature_zero_makes_the_last_row_one_bar_at_100_percent(capsys, tiny_checkpoint: Path) -> None:
    e = explained(capsys, tiny_checkpoint, "--text", TEXT, "--temperature", 0, "--top-k", 5)
    last = e["stages"][-1]
    assert last["stage"] == "draw" and last["kept"] == 1
    assert [c["prob"] for c in last["top"]] == [1.0]
    assert last["top"][0]["id"] == e["stages"][0]["top"][0]["id"] == e["drawn"]["id"]  # the raw favourite
    assert [s["stage"] for s in e["stages"]] == [
        "raw", "penalty", "temperature", "top_k", "top_p", "min_p", "draw",
    ]  # fmt: skip


def _layout_file(tmp_path: Path, layout: str, chars: list[str]) -> Path:
    if layout == "nanogpt":
        return save_nanogpt(tmp_path / "out", nanogpt_state_dict(len(chars), bias=False), n_head=4, chars=chars)
    path = tmp_path / f"{layout}.pth"
    torch.save(tutorial_state_dict(layout, len(chars)), path)
    return path


@pytest.mark.parametrize("layout", [*TUTORIAL, "nanogpt"])
def test_every_layout_is_explained_or_says_why_not(capsys, tmp_path: Path, tiny_corpus, tiny_tokenizer, layout) -> None:
    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus, encoding="utf-8")
    model = _layout_file(tmp_path, layout, tiny_tokenizer.chars)
    hint = ["--vocab-from", corpus, "--layout", layout] if layout != "nanogpt" else []
    e = explained(capsys, model, "--text", "明月几时有把酒问青天", *hint)
    code, out, _ = run(capsys, "info", "--model", model, "--json", *hint)
    info = json.loads(out)
    assert e["layout"] == layout and e["start"] == (0 if layout == "v1" else 2)  # block_size 8 (v1: no positions)
    if layout in ("v1", "v2"):
        assert e["attention"] is None and f"{layout} has no attention layers" in e["note"]
        assert info["n_layer"] == 0
    else:
        assert e["note"] == "" and len(e["attention"]) == info["n_layer"]
        assert {len(layer) for layer in e["attention"]} == {info["n_head"]}
    code, out, _ = run(capsys, "explain", "--model", model, "--text", "明月几时有", *hint)
    assert code == 0 and ("no attention layers" in out) is (layout in ("v1", "v2"))


def test_the_report_names_every_stage_and_head(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(
        capsys, "explain", "--model", tiny_checkpoint, "--text", TEXT, "--position", -2, "--seed", 2,
        "--top-k", 3, "--temperature", 0.7,
    )  # fmt: skip
    assert code == 0
    assert f"after position {len(TEXT) - 2} '归'" in out and "the text goes on with '去'" in out
    for title in ("raw", "repetition penalty  off", "temperature", "top-k", "top-p", "min-p", "the draw", "drew"):
        assert f"\n  {title}" in out
    assert "top-k, 3" not in out and "      3 kept" in out  # the top-k row keeps 3
    assert out.count("all heads") == 2 and out.count(" head 4 ") == 2


def test_control_characters_of_the_vocabulary_are_escaped(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(capsys, "explain", "--model", tiny_checkpoint, "--text", "明月\n几时", "--position", 2)
    assert code == 0 and "'\\n'" in out and "\n'" not in out.replace("\n'\\n'", "")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--text", "明月ABC"], "does not know: A B C"),
        (["--text", ""], "--text is empty"),
        (["--text", "明月", "--position", 2], "--position 2 is outside the text (0 to 1"),
        (["--text", "明月", "--position", -3], "--position -3 is outside"),
        (["--text", TEXT, "--position", 20, "--window-start", 4], "--window-start 4 is outside what position 20"),
        (["--text", TEXT, "--window-start", 31], "--window-start 31 is outside"),
        (["--text", "明月", "--top-alternatives", 0], "--top-alternatives = 0 must be 1 or more"),
        (["--text", "明月", "--top-p", 0], "--top-p = 0.0 is not allowed"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(capsys, tiny_checkpoint: Path, argv: list[object], message: str) -> None:
    code, out, err = run(capsys, "explain", "--model", tiny_checkpoint, *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1
