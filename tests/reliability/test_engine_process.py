"""The engine in its own process: crash isolation (kill -9 mid-reply), no orphans (stdin closed,
the TUI killed), signals to the TUI mid-reply (SIGTERM, SIGHUP) and the exit code of the "model
could not be loaded" screen. Real child processes throughout."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babygpt_tui import cli
from babygpt_tui.api import SamplingParams
from babygpt_tui.session_store import SessionStore
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "assets" / "models" / "songci-small.safetensors"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


async def test_killing_the_engine_mid_reply_keeps_the_partial_reply_and_the_next_prompt_restarts_it(
    make_child_app,
) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        await send(pilot, "明")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        first_pid = app.engine.transport.proc.pid
        os.kill(first_pid, signal.SIGKILL)
        await wait_until(pilot, lambda: not app.chat.generating)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "error" and "SIGKILL" in turn.error and len(turn.reply) >= 10
        assert "SIGKILL" in notes.text() and "A fresh engine starts" in notes.text()
        name = app.sessions.session.name
        await wait_until(pilot, lambda: SessionStore().exists(name))
        saved = SessionStore().load(name).turns[0]
        assert saved.stop_reason == "error" and saved.reply == turn.reply  # kept and saved, marked as an error
        await send(pilot, "月")  # a fresh engine, and the prompt runs when it is ready
        await finished(pilot, turns=2)
        assert app.chat.turns[1].stop_reason == "length" and len(app.chat.turns[1].reply) == 2048
        assert app.engine.transport.proc.pid != first_pid


def test_the_engine_exits_when_its_stdin_closes() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    assert b'"type":"hello"' in proc.stdout.readline()
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


def test_the_engine_does_not_outlive_a_killed_tui(tiny_checkpoint) -> None:
    code = (
        "import sys, time; from babygpt_tui.ui.engine_client import ChildProcess, engine_env\n"
        "child = ChildProcess(env=engine_env(1)); print(child.pid, flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=ENV)
    child_pid = int(parent.stdout.readline())
    parent.kill()  # kill -9: no cleanup runs in the TUI process
    parent.wait()
    assert gone(child_pid), "the engine outlived the TUI"


def start_tui_in_a_terminal(*args: str) -> tuple[subprocess.Popen, int]:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "babygpt_tui.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def read_until(master: int, needle: bytes, timeout: float = 60.0) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_tui_mid_reply_saves_the_reply_marked_stopped_and_ends_the_engine(sig) -> None:
    if not BUNDLED.exists():
        pytest.skip("needs the bundled model (a reply long enough to signal in the middle of)")
    proc, master = start_tui_in_a_terminal(
        "--session", "signalled", "--max-new-tokens", "2048", "--no-one-poem", "--threads", "1"
    )
    try:
        assert b"params" in read_until(master, b"params")  # the model is loaded: the header names it
        os.write(master, "明月".encode() + b"\r")
        assert b"generating" in read_until(master, b"generating")
        time.sleep(1.0)  # mid-reply
        engines = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)  # the engine child
        proc.send_signal(sig)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            read_until(master, b"\0", timeout=0.2)  # keep reading the terminal, or drawing blocks
        assert proc.wait(timeout=1) == -sig  # ended by the same signal, as a shell expects
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert engines.stdout.split(), "no engine child was running"
    turn = SessionStore().load("signalled").turns[-1]
    assert turn.prompt == "明月" and turn.stop_reason == "stopped" and 0 < len(turn.reply) < 2048
    for pid in map(int, engines.stdout.split()):
        assert gone(pid), "the engine outlived the TUI"


def test_a_model_that_cannot_be_loaded_exits_2_after_its_screen_with_the_message(tmp_path, monkeypatch, capsys):
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.screens.error import ErrorScreen

    run = BabyGPTApp.run

    async def close_the_error_screen(pilot) -> None:
        while not isinstance(pilot.app.screen, ErrorScreen):
            await pilot.pause(0.05)
        await pilot.press("q")

    monkeypatch.setattr(BabyGPTApp, "run", lambda self: run(self, headless=True, auto_pilot=close_the_error_screen))
    missing = tmp_path / "nowhere.safetensors"
    assert cli.main(["--model", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.startswith("babygpt-tui: error:")


@pytest.mark.parametrize("hangup", [True, False], ids=["then-SIGHUP", "no-signal"])
def test_a_closed_terminal_window_ends_the_tui_with_the_reply_saved(hangup: bool) -> None:
    """The terminal window closes mid-reply (its pty goes, then SIGHUP): nobody reads what the TUI
    draws any more, and its last writes fail — it must still end, save the reply, end the engine."""
    if not BUNDLED.exists():
        pytest.skip("needs the bundled model (a reply long enough to close the window in the middle of)")
    proc, master = start_tui_in_a_terminal(
        "--session", "closed", "--max-new-tokens", "2048", "--no-one-poem", "--threads", "1"
    )
    try:
        assert b"params" in read_until(master, b"params")
        os.write(master, "明月".encode() + b"\r")
        assert b"generating" in read_until(master, b"generating")
        time.sleep(1.0)
        engines = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        os.close(master)  # the window is gone: nothing reads the terminal any more
        master = -1
        if hangup:
            proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=30) == -signal.SIGHUP  # a failed write is taken as the hang-up it is
    finally:
        if proc.poll() is None:
            proc.kill()
        if master >= 0:
            os.close(master)
    turn = SessionStore().load("closed").turns[-1]
    assert turn.prompt == "明月" and turn.stop_reason == "stopped" and 0 < len(turn.reply) < 2048
    for pid in map(int, engines.stdout.split()):
        assert gone(pid), "the engine outlived the TUI"
