"""A `babygpt-tui serve` subprocess for tests: started on a free loopback port (`--port 0`, the
"listening on" line names it), its log lines collected as they come so tests can look for them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A raw request (for what the openai client will not send: bad JSON, no key): status, JSON body."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


LISTENING = re.compile(r"listening on (http://[^ ]+)")
START_TIMEOUT_S = 120  # torch import and model load on a busy 2-core machine


class ServerProcess:
    def __init__(self, argv: list[str], home: Path, env: dict[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if k != "BABYGPT_TUI_API_KEY"}
        env = {**base, "OMP_NUM_THREADS": "1", "BABYGPT_TUI_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "babygpt_tui.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        match = self.wait_for_line(LISTENING)
        self.url = match.group(1)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new_line:
            while True:
                for line in self.lines[seen:]:
                    if m := pattern.search(line):
                        return m
                seen = len(self.lines)
                if self.proc.poll() is not None and seen == len(self.lines):
                    raise AssertionError("server exited:\n" + "\n".join(self.lines))
                if time.monotonic() > deadline:
                    raise AssertionError(f"no line matching {pattern.pattern!r} in:\n" + "\n".join(self.lines))
                self._new_line.wait(0.2)

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = http("GET", self.url + "/health")
        return status, body

    def wait_until(self, check: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        """Poll /health until `check(body)` holds (no timing is asserted: the timeout only ends a hang)."""
        deadline = time.monotonic() + timeout
        while True:
            _, body = self.health()
            if check(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"/health never satisfied the check; last: {body}")
            time.sleep(0.05)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return "\n".join(self.lines)
