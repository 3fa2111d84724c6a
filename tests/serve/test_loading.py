"""503 while the model loads and after it failed to load: the app under uvicorn in this process
(on a loopback port), with a loader that waits until the test lets it finish."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
import uvicorn

from babygpt_tui.commands.serve import bind
from babygpt_tui.engine.errors import CheckpointError
from babygpt_tui.engine.generate import Generator
from babygpt_tui.serve.app import ServeOptions, create_app
from babygpt_tui.serve.worker import Engine
from tests.serve.server import http


class Running:
    def __init__(self, load: Callable[[], Generator]) -> None:
        self.engine = Engine(load)
        self.sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.engine, ServeOptions()), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key="x", max_retries=0, timeout=30)

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = http("GET", self.url + "/health")
        return status, body

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def serving() -> Iterator[Callable[[Callable[[], Generator]], Running]]:
    started: list[Running] = []

    def start(load: Callable[[], Generator]) -> Running:
        started.append(Running(load))
        return started[-1]

    yield start
    for r in started:
        r.stop()


def test_503_while_loading_then_served(serving: Any, tiny_model: Any, tiny_tokenizer: Any) -> None:
    release = threading.Event()

    def load() -> Generator:
        release.wait(timeout=60)
        return Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", name="tiny.safetensors")

    app = serving(load)
    status, body = app.health()
    assert status == 503 and body["status"] == "loading"
    with pytest.raises(openai.InternalServerError) as e:
        app.client.completions.create(model="tiny", prompt="明月", max_tokens=3)
    assert e.value.status_code == 503
    assert isinstance(e.value.body, dict) and e.value.body["code"] == "model_loading"
    with pytest.raises(openai.InternalServerError):
        app.client.models.list()
    release.set()
    deadline = time.monotonic() + 30
    while app.health()[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert app.client.completions.create(model="tiny", prompt="明月", max_tokens=3).choices[0].text


def test_a_failed_load_is_503_with_the_reason(serving: Any) -> None:
    def load() -> Generator:
        raise CheckpointError("broken.safetensors: not a checkpoint (no header)")

    app = serving(load)
    deadline = time.monotonic() + 30
    while app.health()[1]["status"] != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    status, body = app.health()
    assert status == 503 and "not a checkpoint" in body["error"]
    with pytest.raises(openai.InternalServerError) as e:
        app.client.completions.create(model="tiny", prompt="明月", max_tokens=3)
    assert isinstance(e.value.body, dict) and "could not be loaded" in e.value.body["message"]
