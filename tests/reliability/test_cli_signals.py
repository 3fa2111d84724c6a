"""Ctrl+C in the headless commands: partial output is kept, state is saved, exit code 130."""

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.train import resume_path
from tests.plugins.training import TINY_MODEL_FLAGS

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start(*args: str) -> subprocess.Popen:
    # A background job of a non-interactive shell starts with SIGINT ignored, and Python keeps
    # it ignored: give the child the default disposition, as a terminal would.
    return subprocess.Popen(
        [sys.executable, "-m", "babygpt_tui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_output(proc: subprocess.Popen, stream, min_bytes: int, timeout: float = 60) -> bytes:
    got, deadline = b"", time.monotonic() + timeout
    while len(got) < min_bytes and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            got += chunk
    return got


def test_ctrl_c_during_generate_flushes_partial_text_and_exits_130(tiny_checkpoint: Path) -> None:
    proc = start("generate", "--model", str(tiny_checkpoint), "--max-new-tokens", "2000000", "--seed", "1")
    first = wait_for_output(proc, proc.stdout, 50)
    assert len(first) >= 50, "generation did not start"
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert len((first + rest).decode()) >= 15  # 50 bytes of 3-byte characters were read before Ctrl+C
    assert b"stopped" in err and b"Traceback" not in err


def test_ctrl_c_during_train_saves_resumable_state(tmp_path: Path, tiny_corpus: str) -> None:
    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus * 3, encoding="utf-8")
    out = tmp_path / "m.safetensors"
    args = [
        "train",
        "--data",
        str(corpus),
        "--out",
        str(out),
        *TINY_MODEL_FLAGS,
        "--max-iters",
        "1000000",
        "--eval-interval",
        "100000",
        "--val-fraction",
        "0.25",
        "--device",
        "cpu",
    ]
    proc = start(*args)
    started = wait_for_output(proc, proc.stderr, 10)
    assert b"training" in started
    time.sleep(1.0)  # some steps happen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"--resume" in err and b"Traceback" not in err
    assert resume_path(out).exists() and load_checkpoint(out).model.config.n_embd == 16
