"""`babygpt-tui bench` end to end on tiny models (seconds, not minutes); no timing assertions."""

import json
from pathlib import Path

import pytest

from babygpt_tui.cli import main

TINY_REFERENCE = "vocab_size=40,block_size=16,n_embd=32,n_layer=2,n_head=2"
ROW_KEYS = {
    "engine_float32",
    "engine_bfloat16",
    "engine_forward_only",
    "engine_top_alternatives",
    "engine_tui_settings",
    "engine_long",
    "original",
    "hf",
    "floor_float32",
    "floor_bfloat16",
    "floor_int8",
    "engine_int8",
    "outside_float32",
    "outside_bfloat16",
    "outside_int8",
}


def test_bench_quick_json_to_stdout_runs_end_to_end(
    capsys, monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path
) -> None:
    monkeypatch.setenv("BABYGPT_TUI_BENCH_REFERENCE", TINY_REFERENCE)
    code = main(["bench", "--quick", "--reps", "2", "--json", "-", "--model", str(tiny_checkpoint), "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)  # stdout holds only the JSON; the table went to stderr
    assert "targets" in err and doc["machine"]["threads"] == 1
    assert doc["auto_dtype"] in ("float32", "bfloat16", "int8") and doc["settings"]["reps"] == 2
    reference, trained = doc["models"]
    assert reference["config"]["vocab_size"] == 40 and trained["config"]["block_size"] == 16
    for res in (reference, trained):
        rows = {r["key"]: r for r in res["rows"]}
        assert set(rows) == ROW_KEYS
        for key, r in rows.items():
            if r["skipped"]:
                assert key == "hf" and "pip install" in r["skipped"]
                continue
            assert len(r["decode_samples"]) == 2 and r["decode_tok_s"] > 0
        assert rows["engine_float32"]["prefill_tok_s"] > 0 and rows["original"]["prefill_tok_s"] > 0
        assert "cache shifts" in rows["engine_long"]["note"]
        assert {t["status"] for t in res["targets"]} <= {"PASS", "MISS", "n/a"}
        assert len(res["targets"]) == 12 and "fp32_vs_hf" in res["ratios"]
        # the rows from outside are real generate processes: as many tokens, a rate of their own
        assert rows["outside_int8"]["decode_tok_s"] > 0 and "generate --json" in rows["outside_int8"]["note"]
        assert "no warm-up run" in rows["outside_int8"]["note"]  # --quick: a fresh process per run
        q = res["quality"]["dtypes"]
        assert set(q) == {"bfloat16", "int8"} and 0 <= q["int8"]["greedy_agreement"] <= 1
        assert res["auto_dtype"] in ("float32", "bfloat16", "int8") and "fastest first" in res["auto_note"]
    assert "quality int8 vs float32" in err and "int8 decode vs HF generate fp32" in err
    # a note is text, not rich markup: "pip install -e '.[bench]'" keeps its "[bench]"
    from rich.console import Console

    from babygpt_tui.bench.report import render

    for res in doc["models"]:
        for r in res["rows"]:
            r["note"], r["skipped"] = "see '.[bench]' [/]", ""
    console = Console(record=True, width=400)
    render(doc, console)
    assert console.export_text().count("see '.[bench]' [/]") == 2 * len(ROW_KEYS)


def test_bench_skips_a_missing_bundled_model_with_a_note(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from babygpt_tui.commands import bench

    monkeypatch.setenv("BABYGPT_TUI_BENCH_REFERENCE", "off")
    monkeypatch.setattr(bench, "bundled_model_path", lambda: tmp_path / "not-trained-yet.safetensors")
    out_file = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--json", str(out_file)])
    assert code == 0
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert len(doc["models"]) == 1 and "does not exist yet" in doc["models"][0]["skipped"]
    assert "does not exist yet" in capsys.readouterr().out


def test_bench_missing_model_flag_is_a_one_line_error(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BABYGPT_TUI_BENCH_REFERENCE", "off")
    assert main(["bench", "--quick", "--model", str(tmp_path / "none.safetensors")]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_bench_bad_reference_spec_is_a_one_line_error(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABYGPT_TUI_BENCH_REFERENCE", "vocab_size=abc")
    assert main(["bench", "--quick"]) == 2
    assert "reference model" in capsys.readouterr().err


def test_bench_tui_runs_end_to_end_on_a_tiny_model(capsys, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "tui.json"
    argv = ["bench", "tui", "--quick", "--reps", "1", "--tokens", "20"]
    assert main([*argv, "--model", str(tiny_checkpoint), "--json", str(out_file)]) == 0
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    # no --threads: generate ran with the threads the TUI's engine chose (a core left to the UI)
    assert doc["threads_asked"] == 0 and doc["threads"] >= 1
    assert len(doc["generate_tok_s"]) == len(doc["tui_tok_s"]) == 1 and doc["tui_over_generate"] > 0
    assert len(doc["slider_ms"]) == 10 and len(doc["cold_start_s"]) == 1 and len(doc["tui_first_token_ms"]) == 1
    assert doc["tui_prefill_ms"][0] > 0 and doc["tui_first_token_ms"][0] > doc["tui_prefill_ms"][0]
    names = [t["name"] for t in doc["targets"]]
    assert names[0] == "TUI / generate decode" and "launch -> prompt takes keys" in names
    assert "Enter -> first token on screen" in names
    shown = capsys.readouterr().out
    assert "TUI vs `babygpt-tui generate`" in shown and "a core left to the UI" in shown


def test_bench_floor_prints_both_dtypes(capsys) -> None:
    assert main(["bench", "floor", "--quick", "--reference", TINY_REFERENCE]) == 0
    out = capsys.readouterr().out
    assert "float32" in out and "bfloat16" in out and "GB/s" in out
