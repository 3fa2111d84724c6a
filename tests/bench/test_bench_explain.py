"""`babygpt-tui bench explain` end to end on the tiny model (the real app and engine process):
both sides measured, the ratio and the redraw rate stated with PASS/MISS; no timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

from babygpt_tui.cli import main


def test_bench_explain_measures_the_pipeline_view_open_and_closed(capsys, tiny_checkpoint: Path, tmp_path) -> None:
    out_file = tmp_path / "explain.json"
    argv = ["bench", "explain", "--quick", "--tokens", "400", "--threads", "1"]
    code = main([*argv, "--model", str(tiny_checkpoint), "--json", str(out_file)])
    out, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert doc["benchmark"] == "explain" and doc["tokens"] == 400 and doc["reps"] == 1
    assert len(doc["closed"]) == len(doc["open"]) == 2  # closed, open, open, closed
    for row in doc["closed"] + doc["open"]:
        assert row["decode_tok_s"] > 0 and row["screen_tok_s"] > 0
    assert all(row["redraws_per_s"] == 0 for row in doc["closed"])  # closed: nothing drawn live
    assert all(row["redraws_per_s"] > 0 for row in doc["open"])  # open: the live steps arrived
    ratio, redraws = doc["targets"]
    assert ratio["goal"] == 0.95 and ratio["value"] == doc["open_over_closed"] > 0
    assert redraws["goal"] == 10 and {ratio["status"], redraws["status"]} <= {"PASS", "MISS"}
    assert "decode, pipeline view open / closed" in out and ("PASS" in out or "MISS" in out)


def test_bench_explain_needs_a_model_file(capsys, tmp_path) -> None:
    code = main(["bench", "explain", "--model", str(tmp_path / "missing.safetensors")])
    assert code == 2 and "missing.safetensors: no such model file" in capsys.readouterr().err
