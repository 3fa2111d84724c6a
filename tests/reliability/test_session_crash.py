"""A session autosaved in a loop survives SIGKILL at random moments: after every kill the file
loads and holds either the previous or the new version — never a torn or empty file."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from babygpt_tui.session_store import SessionStore

WRITER = r"""
import sys
from pathlib import Path
from babygpt_tui.session import Turn
from babygpt_tui.session_store import SessionStore

store = SessionStore(Path(sys.argv[1]))
session = store.load("crash") if store.exists("crash") else store.new_session("crash")
while True:
    n = len(session.turns)
    # Growing replies make each save bigger, so kills land mid-write as the file grows.
    session.turns.append(Turn(prompt=f"prompt {n}", reply="明月" * (50 * n + 1), stop_reason="length"))
    store.save(session)
    print(n + 1, flush=True)
"""

KILLS = 30
TIME_BUDGET_S = 90


def test_autosave_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    saved = 0  # turns in the last save the writer confirmed
    kills = 0
    deadline = time.monotonic() + TIME_BUDGET_S
    while kills < KILLS and time.monotonic() < deadline:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
        line = proc.stdout.readline()  # wait for one save, so every round writes something new
        assert line, "the writer did not start"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        confirmed = [int(x) for x in (line + out).split()]
        kills += 1
        session = SessionStore(tmp_path).load("crash")  # raises if the file were torn
        n = len(session.turns)
        # The kill may land after a save hit the disk but before it was printed: allow one more.
        assert confirmed[-1] <= n <= confirmed[-1] + 1
        assert n >= saved
        assert all(t.reply == "明月" * (50 * i + 1) for i, t in enumerate(session.turns))
        saved = n
    assert kills >= KILLS, f"only {kills} kills in {TIME_BUDGET_S}s"
    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix != ".json"]
    assert all(name.startswith(".") for name in leftovers)  # temp files of killed writes, never a session
