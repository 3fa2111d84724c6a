"""Data-parallel training under torchrun: 2 processes, gloo on the CPU, a tiny train_corpus, a few steps.

Each torchrun start costs a few seconds (three Python processes importing torch on 2 cores), so
one run feeds several checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.train import TrainConfig, Trainer, metrics_path, resume_path
from tests.plugins.training import TINY_TRAIN, TINY_TRAIN_FLAGS

WORKER = Path(__file__).with_name("ddp_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
DIMS = dict(TINY_TRAIN, threads=1, sample_chars=20)


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in metrics_path(out).read_text(encoding="utf-8").splitlines()]


def test_two_processes_stay_identical_rank_0_alone_writes_and_one_process_resumes(
    train_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp" / "m.safetensors"
    trace = tmp_path / "trace"
    trace.mkdir()
    settings = dict(DIMS, data=str(train_corpus), out=str(out), max_iters=20, eval_interval=10, grad_accum=2)
    done = torchrun(str(WORKER), json.dumps(settings), str(trace))
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [json.loads((trace / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {2}
    # The parameters are the same on both ranks after every step.
    steps0, steps1 = ranks[0]["steps"], ranks[1]["steps"]
    assert [s["iter"] for s in steps0] == [s["iter"] for s in steps1] == list(range(1, 21))
    assert [s["digest"] for s in steps0] == [s["digest"] for s in steps1]
    assert len({s["digest"] for s in steps0}) == 20  # and they did change every step
    # Rank 0 alone wrote the checkpoint, its resume state and the metrics.
    assert ranks[1]["written"] == []
    assert set(ranks[0]["written"]) == {str(out), str(resume_path(out)), str(metrics_path(out))}
    assert load_checkpoint(out).model.config.n_embd == 32
    logged = records(out)
    assert [r["iter"] for r in logged] == [10, 20]  # once per step: one writer
    assert logged[-1]["train_loss"] < logged[0]["train_loss"]
    assert logged[-1]["val_loss"] < logged[0]["val_loss"]

    # The effective batch does not depend on the process count: one process with the same
    # --grad-accum draws the same micro-batches and follows the same curve.
    alone_out = tmp_path / "alone" / "m.safetensors"
    alone = Trainer(TrainConfig(**{**settings, "out": str(alone_out)}))  # type: ignore[arg-type]
    alone.run()
    for a, b in zip(records(alone_out), logged, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=2e-3)

    # One process resumes the two-process run from its saved step and carries on.
    resumed = Trainer(TrainConfig(**{**settings, "max_iters": 30, "resume": True}))  # type: ignore[arg-type]
    assert resumed.world.size == 1 and resumed.iter == 20 and resumed.grad_accum == 2
    resumed.run()
    assert resumed.iter == 30
    logged = records(out)
    assert [r["iter"] for r in logged] == [10, 20, 30]
    assert logged[-1]["val_loss"] < logged[1]["val_loss"]


CLI_TINY = [*TINY_TRAIN_FLAGS, "--sample-chars", "10"]


def cli(*args: str, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "babygpt_tui", "train", *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As a terminal would: SIGINT at its default (a background job starts with it ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kw,
    )


def test_nproc_error_is_one_line_from_rank_0(train_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    proc = cli(
        "--data", str(train_corpus), "--out", str(out), *CLI_TINY, "--max-iters", "4", "--nproc", "2", "--resume"
    )
    _, err_bytes = proc.communicate(timeout=240)
    err = err_bytes.decode().strip()
    assert proc.returncode == 2
    assert err.splitlines() == [
        f"babygpt-tui: error: {resume_path(out)}: nothing to resume (no resume file next to "
        "--out); drop --resume to start fresh"
    ]


def test_nproc_prints_once_and_ctrl_c_stops_every_process_at_one_step_with_the_state_saved(
    train_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.safetensors"
    args = [
        "--data",
        str(train_corpus),
        "--out",
        str(out),
        *CLI_TINY,
        "--max-iters",
        "100000",
        "--eval-interval",
        "100000",
    ]
    proc = cli(*args, "--nproc", "2")
    deadline = time.monotonic() + 120
    while not (metrics_path(out).exists() and metrics_path(out).stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)  # the run is going: a metrics line is written every 10 steps
    assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
    proc.send_signal(signal.SIGINT)
    _, err_bytes = proc.communicate(timeout=120)
    err = err_bytes.decode()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "Warning" not in err and "--resume" in err, err
    # Rank 0 alone prints: one header, each logged step once, one metrics line per step.
    assert err.count("training 1 layer x 16 wide") == 1 and "2 processes" in err
    assert err.count("iter 10/") == 1
    logged = [r["iter"] for r in records(out)]
    assert logged == sorted(set(logged)) and logged[0] == 10
    assert (tmp_path / "loss.svg").read_bytes().startswith(b"<?xml")
    assert "![training and validation loss](loss.svg)" in (tmp_path / "m.md").read_text(encoding="utf-8")
    stopped_at = int(err.split("stopped at iteration ")[1].split(";")[0].replace(",", ""))
    state_iter = Trainer(
        TrainConfig(
            data=str(train_corpus),
            out=str(out),
            preset="tiny",
            block_size=16,
            n_embd=16,
            n_layer=1,
            n_head=2,
            max_iters=100000,
            val_fraction=0.25,
            device="cpu",
            resume=True,
        )
    ).iter
    assert state_iter == stopped_at > 0
