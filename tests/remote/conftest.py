"""Fixtures for the TUI on a remote engine: a tiny checkpoint per module, `start_server(*flags)` —
a real `babygpt-tui serve` subprocess on a free loopback port (tests/serve/server.py), stopped when
the module ends — and `remote_app(url, ...)`, the app connected to it as `--server URL` does."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.server import ServerProcess

TOKEN_DELAY = "0.004"  # seconds per token: slow enough to move a knob or press Esc mid-reply


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any, make_tiny_model: Any) -> Path:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_checkpoint(path, make_tiny_model(tiny_tokenizer.vocab_size), tiny_tokenizer)


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*flags: str, env: dict[str, str] | None = None, port: int = 0) -> ServerProcess:
        argv = ["serve", "--port", str(port), "--model", str(checkpoint), "--dtype", "float32", *flags]
        server = ServerProcess(argv, tmp_path_factory.mktemp("home"), env)
        started.append(server)
        server.wait_until(lambda body: body.get("status") == "ok")
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def remote_app() -> Callable[..., Any]:
    """`remote_app(url, params=..., api_key=..., model=..., start=...)` → a BabyGPTApp on that server."""
    from babygpt_tui.api import Load
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.remote.client import RemoteClient, ServerOptions

    def make(url: str, params: Any = None, api_key: str | None = None, model: str | None = None, start: Any = None):
        options = ServerOptions(url, api_key, model)
        return BabyGPTApp(Load(url), params=params, options=start, connect=lambda post: RemoteClient(options, post))

    return make


def complete(url: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A direct, non-streamed request to the server (what the TUI's reply is compared with)."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    body = {**body, "stream": False}
    body.pop("stream_options", None)
    request = urllib.request.Request(url + "/v1/completions", json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as r:
        answer: dict[str, Any] = json.loads(r.read())
    return answer
