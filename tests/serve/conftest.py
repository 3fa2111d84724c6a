"""Fixtures for the serve tests: a tiny checkpoint per module and `start_server(*flags)`, which
starts `babygpt-tui serve` in a subprocess (see server.py) and stops it when the module ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.server import ServerProcess


@pytest.fixture(scope="module")
def tiny_checkpoint_file(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any, make_tiny_model: Any) -> Path:
    from babygpt_tui.engine.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_checkpoint(path, make_tiny_model(tiny_tokenizer.vocab_size), tiny_tokenizer)


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*argv: str, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(["serve", "--port", "0", *argv], tmp_path_factory.mktemp("home"), env)
        started.append(server)
        server.wait_until(lambda body: body.get("status") == "ok")
        return server

    yield start
    for server in started:
        server.stop()
