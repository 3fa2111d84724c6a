"""The headless CLI contract: flags, JSON lines, exit codes, one-line errors."""

import json
import math
from pathlib import Path

import pytest
import torch

from babygpt_tui.cli import main
from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_json_contract(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(
        capsys,
        "generate",
        "--model",
        str(tiny_checkpoint),
        "--prompt",
        "明月X",
        "--seed",
        "1",
        "--max-new-tokens",
        "5",
        "--json",
        "--top-alternatives",
        "3",
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    tokens, summary = lines[:-1], lines[-1]
    assert len(tokens) == 5
    for i, t in enumerate(tokens):
        assert set(t) == {"id", "text", "logprob", "position", "window_start", "top"}
        assert t["position"] == 2 + i and t["logprob"] <= 0 and len(t["top"]) == 3
        assert t["window_start"] == 0  # 7 characters: the whole text is in the window
    assert summary["done"] is True and summary["tokens"] == 5
    assert summary["skipped_chars"] == ["X"] and summary["seed"] == 1
    assert summary["prefill_ms"] > 0 and summary["decode_tokens_per_s"] > 0


def test_generate_plain_is_reproducible_with_seed(capsys, tiny_checkpoint: Path) -> None:
    args = (
        "generate",
        "--model",
        str(tiny_checkpoint),
        "--prompt",
        "明月",
        "--seed",
        "4",
        "--max-new-tokens",
        "30",
        "--temperature",
        "1.0",
    )
    _, first, err = run(capsys, *args)
    _, second, _ = run(capsys, *args)
    assert first == second and len(first.strip()) > 0
    assert "tok/s" in err and "prefill" in err and "seed 4" in err


def test_generate_three_block_sizes_without_crash(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(capsys, "generate", "--model", str(tiny_checkpoint), "--max-new-tokens", "48", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["cache_shifts"] >= 2


def test_score_json(capsys, tiny_checkpoint: Path, tmp_path: Path, tiny_corpus: str) -> None:
    text = tmp_path / "t.txt"
    text.write_text(tiny_corpus + "ZZ", encoding="utf-8")
    code, out, _ = run(capsys, "score", str(text), "--model", str(tiny_checkpoint), "--json")
    result = json.loads(out)
    assert code == 0 and result["skipped"] == 2 and result["scored"] == len(tiny_corpus) - 1
    assert result["ppl"] == pytest.approx(2.718281828 ** result["nll"], rel=1e-3)


def test_info(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(capsys, "info", "--model", str(tiny_checkpoint), "--json")
    info = json.loads(out)
    assert code == 0 and info["n_layer"] == 2 and info["block_size"] == 16 and info["n_params"] > 0


def test_convert_upstream_pth(capsys, tmp_path: Path, tiny_model, tiny_corpus: str) -> None:
    pth, corpus, out = tmp_path / "model.pth", tmp_path / "ci.txt", tmp_path / "m.safetensors"
    torch.save(export_state_dict(tiny_model, LAYOUTS["v9"]), pth)  # a tutorial v9 model.pth
    corpus.write_text(tiny_corpus, encoding="utf-8")
    code, stdout, _ = run(capsys, "convert", str(pth), "--vocab-from", str(corpus), "-o", str(out))
    assert code == 0 and "wrote" in stdout
    assert load_checkpoint(out).model.config == tiny_model.config
    code, _, err = run(capsys, "convert", str(pth), "--vocab-from", str(corpus), "-o", str(out))
    assert code == 2 and "--force" in err


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["generate", "--model", "{missing}"], "not found"),
        (["generate", "--model", "{text}"], "not a checkpoint"),
        (["generate", "--model", "{ckpt}", "--temperature", "-1"], "temperature"),
        (["generate", "--model", "{ckpt}", "--top-p", "0"], "top-p"),
        (["generate", "--model", "{ckpt}", "--context-keep", "99"], "context_keep"),
        (["generate", "--model", "{ckpt}", "--device", "cuda"], "not available"),
        (["generate", "--model", "{ckpt}", "--dtype", "int4"], "dtype"),
        (["info", "--model", "{pth}"], "--vocab-from"),
        (["score", "{missing}", "--model", "{ckpt}"], "not found"),
        (["train", "--data", "{missing}", "--out", "{out}", "--max-iters", "1"], "not found"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    capsys, tmp_path: Path, tiny_checkpoint: Path, tiny_model, argv, expected
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    pth = tmp_path / "model.pth"
    torch.save(export_state_dict(tiny_model, LAYOUTS["v9"]), pth)  # a tutorial v9 model.pth
    names = dict(
        missing=str(tmp_path / "missing.bin"),
        text=str(text),
        ckpt=str(tiny_checkpoint),
        pth=str(pth),
        out=str(tmp_path / "o.safetensors"),
    )
    if "--device" in argv and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = run(capsys, *[a.format(**names) for a in argv])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("babygpt-tui: error:") and expected in err
    assert "Traceback" not in err


def test_generate_json_top_is_text_and_raw_probability_most_likely_first(capsys, tiny_checkpoint: Path) -> None:
    code, out, _ = run(
        capsys,
        "generate",
        "--model",
        str(tiny_checkpoint),
        "--prompt",
        "明月",
        "--seed",
        "2",
        "--max-new-tokens",
        "8",
        "--json",
        "--top-alternatives",
        "10",
        "--temperature",
        "0.5",
    )
    tokens = [json.loads(line) for line in out.splitlines()[:-1]]
    assert code == 0 and len(tokens) == 8
    assert any(t["text"] in dict(t["top"]) for t in tokens)
    for t in tokens:
        assert all(isinstance(text, str) and isinstance(p, float) for text, p in t["top"])
        probs = [p for _, p in t["top"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5
        own = dict(t["top"]).get(t["text"])  # under the raw distribution, like logprob (not temperature)
        assert own is None or abs(own - math.exp(t["logprob"])) < 1e-5
    _, plain, _ = run(
        capsys,
        "generate",
        "--model",
        str(tiny_checkpoint),
        "--prompt",
        "明月",
        "--seed",
        "2",
        "--max-new-tokens",
        "8",
        "--top-alternatives",
        "10",
    )
    assert "top" not in plain  # the flag only changes --json output


def test_generate_writes_its_stream_paced_not_once_per_token(monkeypatch) -> None:
    """A write per token to a pipe cost a busy machine a third of its decode rate: at most one
    write per WRITE_EVERY, the first at once, the rest at the end, nothing lost or reordered."""
    from babygpt_tui.commands import generate

    class Recorder:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def write(self, text: str) -> int:
            self.writes.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    out = Recorder()
    monkeypatch.setattr(generate, "WRITE_EVERY", 3600.0)
    paced = generate.PacedWriter(out)
    for i in range(50):
        paced.add(f"{i}\n")
    assert out.writes == ["0\n"]
    paced.write_out()
    assert len(out.writes) == 2 and "".join(out.writes) == "".join(f"{i}\n" for i in range(50))
