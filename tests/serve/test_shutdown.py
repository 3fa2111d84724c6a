"""Ctrl+C while a stream is open: the generation is cancelled, the client gets an error event
(not a stream that just stops), and the server exits instead of waiting for the stream to end."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.serve.server import ServerProcess


@pytest.mark.parametrize("started_with", ["sigint-handled", "sigint-ignored"])
def test_sigint_cancels_open_streams_and_exits(
    start_server: Any, tiny_checkpoint_file: Path, started_with: str
) -> None:
    """`sigint-ignored`: started as `nohup … &` or by a test runner's worker, SIGINT ignored
    from the start; a `kill -INT` still ends it with 130."""
    handler = signal.SIG_IGN if started_with == "sigint-ignored" else signal.default_int_handler
    previous = signal.signal(signal.SIGINT, handler)  # what the server process inherits
    try:
        server: ServerProcess = start_server("--model", str(tiny_checkpoint_file), "--dtype", "float32")
    finally:
        signal.signal(signal.SIGINT, previous)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    stream = client.completions.create(model="tiny", prompt="明月", max_tokens=10**7, stream=True)
    chunks = iter(stream)
    next(chunks)
    server.proc.send_signal(signal.SIGINT)
    with pytest.raises(openai.APIError) as e:
        for _ in chunks:  # the tokens already on their way, then the error event
            pass
    assert "shutting down" in str(e.value)
    try:
        code = server.proc.wait(timeout=30)  # without the cancel it would stream 10**7 tokens first
    except subprocess.TimeoutExpired:
        raise AssertionError("the server did not exit:\n" + "\n".join(server.lines)) from None
    assert code == 130  # Ctrl+C, as for every command
