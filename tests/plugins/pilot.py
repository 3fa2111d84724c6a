"""Helpers for the UI tests: engines for the app and helpers to drive Pilot while a reply streams.

Two ways to run the engine, both speaking the real protocol (api.to_wire/from_wire over pipes):
- `ChildProcess` (the app's own): a real `babygpt-tui engine --stdio` child on a tiny checkpoint
  in tmp_path, optionally paced with `--token-delay` (a tiny model is otherwise too fast to steer);
- `InProcessEngine`: the same `EngineServer` on threads of the test process, around a backend
  wrapper that can fail on purpose, record what the engine saw, or freeze the clock (so numbers
  like tokens/s render identically in snapshots). For tests that are about the UI only.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import babygpt_tui.ui
from babygpt_tui.api import GenerationRequest, Load, SamplingParams

APP_CSS = Path(babygpt_tui.ui.__file__).parent / "app.tcss"


@dataclass
class Options:
    delay: float = 0.0  # seconds to sleep per token
    fail_after: int | None = None  # raise after this many tokens (first run only)
    freeze: bool = False  # fixed event times and stats, for snapshots


class WrappedRun:
    def __init__(self, backend: WrappedBackend, run) -> None:
        self.backend, self.run = backend, run
        self.stats = None

    @property
    def skipped_chars(self):
        return self.run.skipped_chars

    @property
    def prompt_cropped(self):
        return self.run.prompt_cropped

    @property
    def gen(self):  # the engine's pipeline watch taps the real run
        return self.run.gen

    def defer_alternatives(self):  # the engine server's way to a batch's records, as in the app
        return self.run.defer_alternatives()

    @property
    def tap(self):
        return self.run.tap

    @tap.setter
    def tap(self, tap) -> None:
        self.run.tap = tap

    def __iter__(self):
        opts = self.backend.options
        events = iter(self.run)
        try:
            for i, event in enumerate(events):
                if opts.fail_after is not None and i >= opts.fail_after and self.backend.runs == 1:
                    raise RuntimeError("injected failure")
                self.backend.seen.append(event.params)
                if opts.delay:
                    time.sleep(opts.delay)
                yield replace(event, time=1000.0 + i * 0.002) if opts.freeze else event
        finally:
            events.close()
        self.stats = self.run.stats
        if opts.freeze and self.stats is not None:
            n = self.stats.tokens
            self.stats = replace(self.stats, prefill_ms=1.5, decode_s=(n - 1) * 0.002, decode_tokens_per_s=500.0)


@dataclass
class WrappedBackend:
    """Delegates to a real (tiny) Generator and records requests and per-token params."""

    gen: object
    options: Options = field(default_factory=Options)
    requests: list[GenerationRequest] = field(default_factory=list)
    seen: list[SamplingParams] = field(default_factory=list)
    runs: int = 0

    @property
    def info(self):
        return self.gen.info

    def unknown_chars(self, text: str) -> list[str]:
        return self.gen.unknown_chars(text)

    def explain(self, *args, **kwargs):
        return self.gen.explain(*args, **kwargs)

    def stream(self, request, cancel=None, params_source=None):
        self.runs += 1
        self.requests.append(request)
        return WrappedRun(self, self.gen.stream(request, cancel, params_source))


class InProcessEngine:
    """The engine server on threads of this process, over two pipes (a `Transport`)."""

    def __init__(self, loader: Callable[[Load], object]) -> None:
        from babygpt_tui.engine.server import EngineServer

        to_engine_r, to_engine_w = os.pipe()
        from_engine_r, from_engine_w = os.pipe()
        self._in = os.fdopen(to_engine_w, "w", encoding="ascii")
        self._out = os.fdopen(from_engine_r, encoding="ascii")
        engine_out = os.fdopen(from_engine_w, "w", encoding="ascii")
        engine_in = os.fdopen(to_engine_r, encoding="ascii")
        self.server = EngineServer(engine_out, loader)

        def serve() -> None:
            try:
                self.server.serve()
            finally:
                engine_out.close()

        threading.Thread(target=self.server.read, args=(engine_in,), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        self._lock = threading.Lock()

    def send(self, line: str) -> None:
        with self._lock:
            self._in.write(line)
            self._in.flush()

    def lines(self) -> Iterator[str]:
        yield from self._out

    def close(self) -> None:
        with self._lock:
            if not self._in.closed:
                self._in.close()  # as the engine's stdin closing: it stops

    def exit_reason(self) -> str:
        return "The engine process exited"


async def wait_until(pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until `condition()` is true (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        # A plain sleep lets the app run; `pilot.pause` would also post a callback to every
        # widget per poll, which slows a long transcript down far more than real use does.
        await asyncio.sleep(0.01)


async def ready(pilot) -> None:
    """Wait until the model has loaded."""
    await wait_until(pilot, lambda: pilot.app.replies.ready)
    await pilot.pause()


async def send(pilot, text: str) -> None:
    """Type `text` into the prompt and press Enter."""
    pilot.app.query_one("#prompt").focus()
    for ch in text:
        await pilot.press(ch)
    await press_now(pilot, "enter")  # generation starts: do not wait for an idle process


async def finished(pilot, turns: int = 1) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: len(app.chat.turns) >= turns and not app.chat.generating)
    await pilot.pause()


class Recorder:
    """Records App.notify calls (the toasts are hard to assert on otherwise)."""

    def __init__(self, app) -> None:
        self.messages: list[tuple[str, str]] = []
        original = app.notify

        def notify(message, *args, **kwargs):
            self.messages.append((str(message), kwargs.get("severity", "information")))
            return original(message, *args, **kwargs)

        app.notify = notify

    def text(self) -> str:
        return "\n".join(m for m, _ in self.messages)


class Sent:
    """Records the requests the app sends to its engine (what reached the protocol)."""

    def __init__(self, app) -> None:
        self.requests: list = []
        original = app.engine.send

        def send(request):
            self.requests.append(request)
            return original(request)

        app.engine.send = send
        app.replies.send = send

    def generates(self) -> list:
        from babygpt_tui.api import Generate

        return [r for r in self.requests if isinstance(r, Generate)]


async def press_now(pilot, *keys: str) -> None:
    """Press keys while a reply streams. `pilot.press` waits for the whole process to go idle
    (up to a second per key), which never happens while the model is generating."""
    from textual import events

    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
        await pilot.pause(0.02)


async def seeded_reply(pilot, prompt: str = "明月", seed: int = 7) -> None:
    """For screenshots: no blinking cursors, a fixed seed, `prompt` sent and its reply finished."""
    from textual.widgets import Checkbox, Input

    from babygpt_tui.ui.widgets.prompt import PromptInput

    app = pilot.app
    await ready(pilot)
    app.query_one(PromptInput).cursor_blink = False
    for widget in app.query(Input):
        widget.cursor_blink = False
    app.query_one("#seed-fixed", Checkbox).value = True
    await wait_until(pilot, lambda: not app.query_one("#seed-value", Input).disabled)
    app.query_one("#seed-value", Input).value = str(seed)
    await send(pilot, prompt)
    await finished(pilot)
