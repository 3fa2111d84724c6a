"""The server goes away or is not there yet: killed mid-reply (a clear error, the partial reply kept
and saved marked as error), not started when the TUI opens (said once; the prompt waits and runs
when it comes up), still loading its model (503: waited for)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from babygpt_tui.api import SamplingParams
from babygpt_tui.commands.serve import bind
from babygpt_tui.engine.generate import Generator
from babygpt_tui.serve.app import ServeOptions, create_app
from babygpt_tui.serve.worker import Engine
from babygpt_tui.session_store import SessionStore
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until
from tests.remote.conftest import TOKEN_DELAY

SIZE = (100, 30)


async def test_a_server_killed_mid_reply_is_a_clear_error_and_the_reply_is_kept(start_server, remote_app) -> None:
    server = start_server("--token-delay", TOKEN_DELAY)
    app = remote_app(server.url, SamplingParams(max_new_tokens=1500))
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        server.proc.kill()
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "error" and len(turn.reply) >= 10
        assert turn.error.startswith(f"The server at {server.url} closed the connection mid-reply (")
        assert [s for m, s in notes.messages if "closed the connection" in m] == ["error"]
        name = app.sessions.session.name
        await wait_until(pilot, lambda: SessionStore().exists(name) and SessionStore().load(name).turns)
        saved = SessionStore().load(name).turns[0]
        assert saved.stop_reason == "error" and saved.reply == turn.reply and saved.error == turn.error
        await send(pilot, "明月")  # the next prompt: the server is gone, said in one sentence
        await finished(pilot, turns=2)
        assert (
            app.chat.turns[1].error == f"Cannot reach the server at {server.url} (connection refused). Is it running?"
        )
    assert "Traceback" not in notes.text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_a_server_not_started_yet_is_waited_for_and_the_prompt_runs_when_it_is_up(
    start_server, remote_app
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = remote_app(url, SamplingParams(max_new_tokens=8))
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "Cannot reach" in notes.text())
        assert f"Cannot reach the server at {url} (connection refused)" in notes.text()
        assert not app.replies.ready
        await send(pilot, "明月")  # waits for the server
        assert app.replies.queued is not None and not app.chat.turns
        start_server(port=port)
        await ready(pilot)
        await finished(pilot)
        assert len(app.chat.turns[0].reply) == 8 and app.chat.turns[0].stop_reason == "length"
        assert sum("Cannot reach" in m for m, _ in notes.messages) == 1  # said once, not every retry


class GatedServer:
    """Our server app in this process, whose model loads only when the test lets it (a 503 until then)."""

    def __init__(self, load: Any) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(Engine(load), ServeOptions()), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def gated(tiny_model: Any, tiny_tokenizer: Any) -> Iterator[tuple[GatedServer, threading.Event]]:
    release = threading.Event()

    def load() -> Generator:
        release.wait(timeout=60)
        return Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", name="tiny.safetensors")

    server = GatedServer(load)
    yield server, release
    release.set()
    server.stop()


async def test_a_server_loading_its_model_is_waited_for(gated, remote_app) -> None:
    server, release = gated
    app = remote_app(server.url, SamplingParams(max_new_tokens=6))
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "is loading its model" in notes.text())
        assert f"The server at {server.url} is loading its model (503: the model is still loading" in notes.text()
        await send(pilot, "明月")
        assert app.replies.queued is not None
        release.set()
        await ready(pilot)
        await finished(pilot)
        assert len(app.chat.turns[0].reply) == 6 and app.chat.turns[0].stop_reason == "length"
