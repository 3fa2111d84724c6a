"""`babygpt-tui bench serve` end to end on a tiny model: a real server, the openai client; no
timing assertions (the numbers belong to a quiet machine)."""

import json
from pathlib import Path

from babygpt_tui.cli import main


def test_bench_serve_reports_both_sides_and_their_ratio(capsys, tmp_path: Path, tiny_checkpoint: Path) -> None:
    out_file = tmp_path / "serve.json"
    argv = ["bench", "serve", "--model", str(tiny_checkpoint), "--dtype", "float32", "--threads", "1"]
    code = main([*argv, "--tokens", "40", "--reps", "2", "--json", str(out_file)])
    out = capsys.readouterr().out
    assert code == 0 and "ratio" in out and "serve + openai client" in out and "serve + the TUI's remote client" in out
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert doc["benchmark"] == "serve" and doc["dtype"] == "float32" and doc["threads"] == 1
    for key in ("engine", "engine_whole", "stream", "whole", "engine_alts", "remote"):
        assert len(doc["samples"][key]) == 2 and all(x > 0 for x in doc["samples"][key])
    assert doc["stream_ratio"] == doc["serve_stream_decode_tok_s"] / doc["engine_decode_tok_s"]
    assert doc["remote_ratio"] == doc["remote_client_decode_tok_s"] / doc["engine_alts_decode_tok_s"]
    assert [t["status"] in ("PASS", "MISS") for t in doc["targets"]] == [True, True]
