"""The UI's side of the engine protocol (engine/server.py): it starts the engine child process,
sends requests, and turns the engine's lines into Textual messages on a reader thread. No torch:
the UI process never imports it (the engine does, in its own process).

If the child dies without being asked to (an exception it could not survive, a segfault, the
OOM killer, `kill -9`), the reader thread sees its stdout end and posts `EngineStopped` with what
happened; the lifecycle keeps the partial reply, and the next prompt starts a fresh engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import IO, Protocol

from textual.message import Message

from ..api import (
    PROTOCOL_VERSION,
    Ack,
    EngineFailed,
    Event,
    Explained,
    Finished,
    Hello,
    Load,
    Loaded,
    Log,
    ProtocolError,
    Request,
    Shutdown,
    Started,
    TokenBatch,
    from_wire,
    to_wire,
)
from .backend import Capabilities
from .messages import (
    EngineLog,
    EngineStopped,
    ExplanationReady,
    GenerationFinished,
    ModelLoaded,
    ModelLoadFailed,
    ReplyStarted,
    TokensGenerated,
)

CLOSE_TIMEOUT = 2.0  # seconds the engine gets to exit after its stdin closes, before it is killed
SIGNAL_NOTES = {
    signal.SIGKILL: "was killed (SIGKILL: out of memory, or killed by hand)",
    signal.SIGSEGV: "crashed (SIGSEGV, a segmentation fault)",
    signal.SIGABRT: "crashed (SIGABRT)",
    signal.SIGBUS: "crashed (SIGBUS)",
}


class Transport(Protocol):
    """A running engine: lines in, lines out, and how it ended."""

    def send(self, line: str) -> None: ...  # OSError when the engine is gone

    def lines(self) -> Iterator[str]: ...  # until the engine's output ends

    def close(self) -> None: ...  # ask it to end (stdin closed), kill it if it does not

    def exit_reason(self) -> str: ...  # once `lines` has ended


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"was ended by signal {-code}"
        return SIGNAL_NOTES.get(sig, f"was ended by {sig.name}")
    return "exited" if code == 0 else f"exited with code {code}"


class ChildProcess:
    """The engine as a child process: `python -m babygpt_tui.cli engine --stdio` by default.

    It runs in its own session (a terminal's signals reach the TUI only) and exits when its stdin
    closes, so it never outlives the TUI. Its stderr is kept (the last lines) to explain a crash."""

    def __init__(self, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio"]
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.stderr_tail: deque[str] = deque(maxlen=40)
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True, name="engine-stderr").start()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def send(self, line: str) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        with self._lock:
            stdin.write(line.encode("ascii"))
            stdin.flush()

    def lines(self) -> Iterator[str]:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            yield raw.decode("ascii", "replace")

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def exit_reason(self) -> str:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:  # it closed its stdout but lives on: end it
            self.proc.kill()
            code = self.proc.wait()
        last = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
        return f"The engine process {describe_exit(code)}" + (f": {last}" if last else "")


def engine_env(threads: int) -> dict[str, str]:
    """The child's environment: OpenMP threads sleep when idle instead of spinning against the UI
    (see the README's Speed section for the measurement), and `threads` of them."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


class EngineClient:
    """Requests to the engine, events back as Textual messages (posted with `post`)."""

    capabilities = Capabilities()  # the engine process can do everything

    def __init__(self, spawn: Callable[[], Transport], load: Load, post: Callable[[Message], object]) -> None:
        self.spawn, self.load, self.post = spawn, load, post
        self.transport: Transport | None = None
        self.pid = 0  # the engine's, from its hello

    @property
    def running(self) -> bool:
        return self.transport is not None

    def start(self) -> None:
        """Start an engine and have it load the model (`ModelLoaded` or `ModelLoadFailed` follows)."""
        transport = self.transport = self.spawn()
        threading.Thread(target=self._read, args=(transport,), daemon=True, name="engine-reader").start()
        self.send(self.load)

    def send(self, request: Request) -> None:
        if self.transport is None:
            return
        with suppress(OSError, ValueError):  # the engine is gone: the reader thread reports why
            self.transport.send(to_wire(request))

    def ack(self, turn: int) -> None:
        self.send(Ack(turn))

    def close(self) -> None:
        """End the engine (asked first; killed if it does not go within a couple of seconds)."""
        transport, self.transport = self.transport, None
        if transport is not None:
            with suppress(OSError, ValueError):
                transport.send(to_wire(Shutdown()))
            transport.close()

    def _read(self, transport: Transport) -> None:
        for line in transport.lines():
            try:
                event = from_wire(line)
            except ProtocolError as e:
                self.post(EngineLog(Log("warning", f"engine: {e}")))
                continue
            if (message := self._message(event, transport)) is not None:
                self.post(message)
        if transport is self.transport:  # not asked to stop: it crashed or was killed
            self.transport = None
            self.post(EngineStopped(transport.exit_reason()))

    def _message(self, event: Request | Event, transport: Transport) -> Message | None:
        if isinstance(event, TokenBatch):
            return TokensGenerated(event)
        if isinstance(event, Finished):
            return GenerationFinished(event.turn, event.stats, event.error)
        if isinstance(event, Started):
            return ReplyStarted(event)
        if isinstance(event, Explained):
            return ExplanationReady(event)
        if isinstance(event, Loaded):
            return ModelLoaded(event.info, event.seconds)
        if isinstance(event, EngineFailed):
            if event.op == "load":
                return ModelLoadFailed(self.load.model, event.message, event.user_error)
            return EngineLog(Log("warning", f"engine: {event.op}: {event.message}"))
        if isinstance(event, Log):
            return EngineLog(event)
        if isinstance(event, Hello):
            self.pid = event.pid
            if event.protocol != PROTOCOL_VERSION:
                transport.close()
                return EngineLog(
                    Log("warning", f"the engine speaks protocol {event.protocol}, this TUI {PROTOCOL_VERSION}")
                )
            return None
        return EngineLog(Log("warning", f"engine: unexpected {type(event).__name__}"))
