"""The commands on every kind of file: info names the layout, generate/score are exact with
--exact, convert keeps the layout and writes back the file the original scripts load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from babygpt_tui.cli import main
from babygpt_tui.engine.score import windows
from tests.engine.layout_reference import (
    greedy,
    nanogpt_logits,
    nanogpt_state_dict,
    save_nanogpt,
    tutorial_logits,
    tutorial_state_dict,
)

PROMPT = "明月几时有"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


def tutorial_pth(tmp_path: Path, layout: str, vocab: int) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = tutorial_state_dict(layout, vocab)
    path = tmp_path / f"{layout}.pth"
    torch.save(sd, path)
    return path, sd


def generated(capsys, *argv: object, n: int = 20) -> tuple[list[int], list[float]]:
    code, out, err = run(capsys, "generate", *argv, "--temperature", "0", "--max-new-tokens", n, "--json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()][:-1]
    return [r["id"] for r in records], [r["logprob"] for r in records]


def same(got: tuple[list[int], list[float]], want: tuple[list[int], list[float]]) -> bool:
    return got[0] == want[0] and max(abs(a - b) for a, b in zip(got[1], want[1], strict=True)) < 1e-4


def test_info_names_the_layout_in_words(capsys, tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    path, _ = tutorial_pth(tmp_path, "v8", tiny_tokenizer.vocab_size)
    code, out, _ = run(capsys, "info", "--model", path, "--vocab-from", corpus)
    assert code == 0
    assert (
        "layout                  BabyGPT tutorial v8: attention projection and a 4x MLP, residual, no LayerNorm" in out
    )
    code, out, _ = run(capsys, "info", "--model", path, "--vocab-from", corpus, "--json", "--exact")
    info = json.loads(out)
    assert info["layout"] == "v8" and info["exact"] is True and info["dtype"] == "float32"


def test_info_says_when_auto_chose_v7(capsys, tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    path, _ = tutorial_pth(tmp_path, "v6", tiny_tokenizer.vocab_size)
    _, out, _ = run(capsys, "info", "--model", path, "--vocab-from", corpus)
    assert "auto chose v7" in out and "--layout v6" in out
    _, out, _ = run(capsys, "info", "--model", path, "--vocab-from", corpus, "--layout", "v6")
    assert "BabyGPT tutorial v6:" in out and "auto chose" not in out


@pytest.mark.parametrize("layout", ["v2", "v5", "v9"])
def test_generate_exact_is_the_scripts_greedy_loop(
    capsys, tmp_path: Path, corpus: Path, tiny_tokenizer, layout
) -> None:
    path, sd = tutorial_pth(tmp_path, layout, tiny_tokenizer.vocab_size)
    ours = generated(capsys, "--model", path, "--vocab-from", corpus, "--exact", "--prompt", PROMPT)
    want = greedy(lambda ids: tutorial_logits(layout, sd, ids), tiny_tokenizer.encode(PROMPT).ids, 20)
    assert same(ours, want)


def test_score_is_the_scripts_loss(capsys, tmp_path: Path, corpus: Path, tiny_tokenizer, tiny_corpus: str) -> None:
    path, sd = tutorial_pth(tmp_path, "v3", tiny_tokenizer.vocab_size)
    code, out, _ = run(capsys, "score", corpus, "--model", path, "--vocab-from", corpus, "--json", "--exact")
    assert code == 0
    ids = tiny_tokenizer.encode(tiny_corpus).ids
    total, count = 0.0, 0
    for start, end, first in windows(len(ids), 8, 4):  # score's default stride: block_size // 2
        for t in range(max(first, start + 1), end + 1):  # target t, seen from ids[start:t]
            total -= float(torch.log_softmax(tutorial_logits("v3", sd, ids[start:t]).double(), -1)[ids[t]])
            count += 1
    assert abs(json.loads(out)["nll"] - total / count) < 1e-4


def test_convert_keeps_the_layout_so_a_v6_needs_no_hint_afterwards(
    capsys, tmp_path: Path, corpus: Path, tiny_tokenizer
) -> None:
    path, sd = tutorial_pth(tmp_path, "v6", tiny_tokenizer.vocab_size)
    out = tmp_path / "v6.safetensors"
    code, stdout, _ = run(capsys, "convert", path, "--vocab-from", corpus, "--layout", "v6", "-o", out)
    assert code == 0 and "BabyGPT tutorial v6" in stdout
    _, info, _ = run(capsys, "info", "--model", out)
    assert "BabyGPT tutorial v6:" in info
    want = greedy(lambda ids: tutorial_logits("v6", sd, ids), tiny_tokenizer.encode(PROMPT).ids, 20)
    assert same(generated(capsys, "--model", out, "--exact", "--prompt", PROMPT), want)
    code, _, err = run(capsys, "info", "--model", out, "--layout", "v7")
    assert code == 2 and "records BabyGPT tutorial v6" in err and err.count("\n") == 1


@pytest.mark.parametrize("layout", ["v1", "v3", "v4", "v5", "v7", "v8", "v12"])
def test_convert_to_pth_writes_back_what_the_script_saved(
    capsys, tmp_path: Path, corpus: Path, tiny_tokenizer, layout: str
) -> None:
    path, sd = tutorial_pth(tmp_path, layout, tiny_tokenizer.vocab_size)
    flags = ["--layout", layout] if layout == "v12" else []
    native, back = tmp_path / "m.safetensors", tmp_path / "back.pth"
    assert run(capsys, "convert", path, "--vocab-from", corpus, *flags, "-o", native)[0] == 0
    code, stdout, _ = run(capsys, "convert", native, "-o", back)
    assert code == 0 and "n_embed = 16" in stdout
    again = torch.load(back, weights_only=True)
    assert set(again) == set(sd) and all(torch.equal(again[k], sd[k]) for k in sd)


def test_nanogpt_checkpoint_commands(capsys, tmp_path: Path, tiny_tokenizer) -> None:
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=False)
    ckpt = save_nanogpt(tmp_path / "out-shakespeare-char", sd, n_head=4, chars=tiny_tokenizer.chars)
    _, info, _ = run(capsys, "info", "--model", ckpt)
    assert "nanoGPT: fused c_attn, GELU MLP" in info
    want = greedy(lambda ids: nanogpt_logits(sd, ids, n_head=4), tiny_tokenizer.encode(PROMPT).ids, 20)
    assert same(generated(capsys, "--model", ckpt, "--exact", "--prompt", PROMPT), want)
    native, back = tmp_path / "m.safetensors", tmp_path / "back" / "ckpt.pt"
    assert run(capsys, "convert", ckpt, "-o", native)[0] == 0
    assert run(capsys, "convert", native, "-o", back)[0] == 0
    saved = torch.load(back, weights_only=True)
    assert saved["config"] == {"dataset": "tiny_char"}  # where nanoGPT's sample.py looks for meta.pkl
    assert saved["model_args"]["n_head"] == 4 and saved["model_args"]["bias"] is False
    assert set(saved["model"]) == set(sd) and all(torch.equal(saved["model"][k], sd[k]) for k in sd)
    assert saved["model"]["lm_head.weight"].data_ptr() == saved["model"]["transformer.wte.weight"].data_ptr()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--exact", "--context-keep", "3"], "drop --context-keep or --exact"),
        (["--exact", "--dtype", "bfloat16"], "--exact runs in float32"),
        (["--layout", "v13"], "--layout 'v13' is unknown"),
    ],
)
def test_flag_mistakes_are_one_line(capsys, tmp_path: Path, corpus: Path, tiny_tokenizer, flags, words) -> None:
    path, _ = tutorial_pth(tmp_path, "v4", tiny_tokenizer.vocab_size)
    code, _, err = run(capsys, "generate", "--model", path, "--vocab-from", corpus, *flags)
    assert code == 2 and words in err and err.count("\n") == 1


def test_info_escapes_control_characters_from_the_file(capsys, tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    path = save_checkpoint(
        tmp_path / "m.safetensors", tiny_model, tiny_tokenizer, extra={"train": "\x1b[2J\x1b]0;pwned\x07"}
    )
    code, out, _ = run(capsys, "info", "--model", path)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
