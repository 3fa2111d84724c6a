"""`babygpt-tui bench train`: the three training runs happen and the report adds up; no timing
assertions (speed belongs to the benchmark's numbers, not to a test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babygpt_tui.bench import train_ddp
from tests.plugins.training import TINY_MODEL_FLAGS


def test_train_bench_runs_one_and_two_processes(
    tmp_path: Path, tiny_corpus: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus * 3, encoding="utf-8")
    monkeypatch.setattr(
        train_ddp,
        "QUICK",
        (
            [
                *TINY_MODEL_FLAGS,
                "--val-fraction",
                "0.25",
            ],
            20,
        ),
    )
    assert train_ddp.main(quick=True, json_dest="-", data=str(corpus)) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [r["processes"] for r in doc["runs"]] == [1, 1, 2]
    assert all(r["tokens_per_s"] > 0 and r["windows"] >= 1 for r in doc["runs"])
    ddp, whole = doc["runs"][2], doc["runs"][0]
    assert doc["ratio_ddp_vs_one_process"] == pytest.approx(ddp["tokens_per_s"] / whole["tokens_per_s"], rel=1e-2)
    assert doc["target"]["met"] == (doc["scaling_efficiency"] >= train_ddp.EFFICIENCY_GOAL)
    assert "processes" in err and "all-reduce" in err and ("PASS" in err or "MISS" in err)


def test_a_two_process_run_that_loses_a_rank_is_run_once_more_and_the_report_says_so(
    tmp_path: Path, tiny_corpus: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus * 3, encoding="utf-8")
    monkeypatch.setattr(train_ddp, "QUICK", ([*TINY_MODEL_FLAGS, "--val-fraction", "0.25"], 20))
    real, lost = subprocess.run, []

    def run(argv, **kw):  # the first 2-process attempt loses rank 1, as seen under load in CI
        if "--nproc" in argv and not lost:
            lost.append(argv)
            return subprocess.CompletedProcess(argv, 1, "", "babygpt-tui: error: rank 1 failed (exit code -6)\n")
        return real(argv, **kw)

    monkeypatch.setattr(train_ddp.subprocess, "run", run)
    assert train_ddp.main(quick=True, json_dest="-", data=str(corpus)) == 0
    out, err = capsys.readouterr()
    runs = json.loads(out)["runs"]
    assert lost and "exit code -6" in runs[2]["retried"] and not runs[0]["retried"]
    assert "retried once" in err
