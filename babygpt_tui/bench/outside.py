"""The engine measured from outside: `babygpt-tui generate --json` in a process of its own, each
token's line stamped as it arrives on the pipe, as a user piping it into another program sees it.

The rows sit beside the in-process `engine_<dtype>` rows of the same run, same model (a random
reference model is saved to a temporary file first), prompt, token count, greedy settings and
threads; their ratio says whether the bench's numbers are the ones a user gets. That is how
issue 17's "bf16 is no faster than fp32 from outside" was traced: see the README's speed section.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from .cases import Plan
from .timing import Case, Sample, decode_rate


def generate_command(model: Path, dtype: str, prompt: str, n: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "babygpt_tui",
        "generate",
        "--model",
        str(model),
        "--dtype",
        dtype,
        "--threads",
        str(threads),
        "--json",
        "--temperature",
        "0",
        "--seed",
        "0",
        "--max-new-tokens",
        str(n),
        "--prompt",
        prompt,
    ]


def outside_stamps(model: Path, dtype: str, prompt: str, n: int, threads: int) -> tuple[list[float], dict[str, object]]:
    """Run generate; return when each token line arrived here, and its closing summary."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(
        generate_command(model, dtype, prompt, n, threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    stamps: list[float] = []
    summary: dict[str, object] = {}
    for line in proc.stdout:  # readline returns as soon as a line is in the pipe
        now = time.perf_counter()
        record = json.loads(line)
        if record.get("done"):
            summary = record
        else:
            stamps.append(now)
    _, err = proc.communicate()
    if proc.returncode != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"generate exited {proc.returncode}: {last[0]}")
    return stamps, summary


def outside_case(key: str, model: Path, dtype: str, plan: Plan, warm_up: bool = True) -> Case:
    threads = torch.get_num_threads()

    def run(warmup: bool) -> Sample:
        n = plan.warmup_n if warmup else plan.decode_n
        stamps, _ = outside_stamps(model, dtype, plan.prompt, n, threads)
        return Sample(decode=decode_rate(stamps))

    note = f"generate --json --dtype {dtype} --threads {threads}, lines stamped on arrival"
    if not warm_up:
        note += ", no warm-up run"
    return Case(key, "engine from outside (a pipe)", dtype, run, note=note, warm_up=warm_up)
