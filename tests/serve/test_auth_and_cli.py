"""The API key (401), /health without one, and the command's own errors (exit 2, one line)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from babygpt_tui.cli import main
from babygpt_tui.commands.serve import is_loopback
from tests.serve.server import ServerProcess, http

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def server(start_server: Any, tiny_checkpoint_file: Path) -> ServerProcess:
    # the key comes from the environment variable: no --api-key on the command line
    return start_server("--model", str(tiny_checkpoint_file), "--dtype", "float32", env={"BABYGPT_TUI_API_KEY": KEY})


def client(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


@pytest.mark.parametrize("key", ["wrong", KEY + "x", KEY[:-1]])
def test_a_wrong_or_missing_key_is_401(server: ServerProcess, key: str) -> None:
    for call in (
        lambda c: c.models.list(),
        lambda c: c.completions.create(model="tiny", prompt="明月", max_tokens=3),
        lambda c: c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "明月"}]),
    ):
        with pytest.raises(openai.AuthenticationError) as e:
            call(client(server, key))
        assert isinstance(e.value.body, dict) and e.value.body["code"] == "invalid_api_key"


@pytest.mark.parametrize("headers", [{}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}])
def test_no_key_or_a_malformed_header_is_401(server: ServerProcess, headers: dict[str, str]) -> None:
    status, body = http("POST", server.url + "/v1/completions", b'{"prompt": "x"}', headers)
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_the_right_key_is_served_and_health_needs_none(server: ServerProcess) -> None:
    reply = client(server, KEY).completions.create(model="tiny", prompt="明月", max_tokens=5, seed=1)
    assert len(reply.choices[0].text) == 5
    status, body = server.health()
    assert status == 200 and body["status"] == "ok" and body["model"] == "tiny"


def test_the_log_says_a_key_is_required(server: ServerProcess) -> None:
    assert any("listening on http://127.0.0.1:" in line and "API key required" in line for line in server.lines)


# ----- the command's own errors -------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org", "::"])
def test_a_host_other_machines_reach_needs_a_key(capsys: Any, monkeypatch: Any, host: str) -> None:
    monkeypatch.delenv("BABYGPT_TUI_API_KEY", raising=False)
    code, err = run(capsys, "serve", "--host", host)
    assert code == 2 and err.count("\n") == 1
    assert "--api-key" in err and "BABYGPT_TUI_API_KEY" in err


def test_a_busy_port_is_one_line(capsys: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run(capsys, "serve", "--port", str(port))
    assert code == 2 and err.count("\n") == 1 and f"--port {port}" in err and "in use" in err


@pytest.mark.parametrize(
    "flags,expected",
    [
        (["--port", "70000"], "--port 70000"),
        (["--max-queue", "-1"], "--max-queue"),
        (["--max-prompt-chars", "0"], "--max-prompt-chars"),
        (["--temperature", "-2"], "--temperature"),
        (["--stop", ""], "--stop"),
        (["--refuse-field", "prompt"], "--refuse-field prompt"),
        (["--token-delay", "-1"], "--token-delay"),
    ],
)
def test_bad_flags_are_one_line(capsys: Any, flags: list[str], expected: str) -> None:
    code, err = run(capsys, "serve", *flags)
    assert code == 2 and err.count("\n") == 1 and expected in err


def test_a_model_that_cannot_load_stops_the_server_with_its_message(capsys: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing.safetensors"
    code, err = run(capsys, "serve", "--port", "0", "--model", str(missing))
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("babygpt-tui: error:") and str(missing) in last and "Traceback" not in err


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_loopback_is_127_slash_8_and_nothing_else(n: int) -> None:
    address = str(ipaddress.IPv4Address(n))
    assert is_loopback(address) == address.startswith("127.")


@pytest.mark.parametrize(
    "host,expected", [("localhost", True), ("LOCALHOST", True), ("::1", True), ("[::1]", True), ("::", False)]
)
def test_loopback_names(host: str, expected: bool) -> None:
    assert is_loopback(host) == expected
