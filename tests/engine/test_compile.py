"""`--compile`: the compiled decode step decodes what the plain one does, its kernels land in the
on-disk cache, and without a C++ compiler it is one line and a plain step (CLI and engine)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babygpt_tui.api import GenerationRequest, Load, Loaded, Log, SamplingParams, from_wire, to_wire
from babygpt_tui.engine import compile as compiling
from babygpt_tui.engine.generate import Generator

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=30)


def reply(gen: Generator, prompt: str = "明月") -> list[tuple[int, float]]:
    return [(e.id, e.logprob) for e in gen.stream(GenerationRequest(prompt, GREEDY, seed=0))]


@pytest.mark.skipif(compiling.find_compiler() is None, reason="no C++ compiler here")
def test_the_compiled_step_decodes_like_the_plain_one_and_fills_the_disk_cache(
    tiny_model, tiny_tokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "inductor"))
    plain = Generator(copy.deepcopy(tiny_model), tiny_tokenizer, device="cpu", dtype="float32")
    compiled = Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", compile=True)
    assert compiled.compile_note == "" and compiled.compile_seconds is not None and compiled.compile_seconds > 0
    assert len(compiled.cache) == 0  # the first (compiling) call left nothing behind
    want, got = reply(plain), reply(compiled)
    assert [i for i, _ in got] == [i for i, _ in want]
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(want, got, strict=True))
    assert any((tmp_path / "inductor").rglob("*"))  # what the next launch loads instead of compiling
    long = compiled.stream(GenerationRequest("明", SamplingParams(max_new_tokens=2 * compiled.block_size), seed=1))
    assert len(list(long)) == 2 * compiled.block_size  # every position, shifts included: one graph


@pytest.mark.skipif(compiling.find_compiler() is None, reason="no C++ compiler here")
def test_a_bf16_step_compiles_from_plain_weights_not_onednn_packed_ones(
    tiny_model, tiny_tokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eager bf16 steps use oneDNN-packed weights, which inductor cannot read: compiling must
    start from the plain ones (it failed with 'Cannot access storage of OpaqueTensorImpl')."""
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "inductor"))
    plain = Generator(copy.deepcopy(tiny_model), tiny_tokenizer, device="cpu", dtype="bfloat16")
    assert plain.model._plan[0].qkv_w.is_mkldnn
    compiled = Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="bfloat16", compile=True)
    assert compiled.compile_note == "" and compiled.compile_seconds is not None
    assert not compiled.model._plan[0].qkv_w.is_mkldnn
    want, got = reply(plain), reply(compiled)
    assert len(got) == len(want) and abs(got[0][1] - want[0][1]) < 0.05  # bf16: other kernels, ~3 digits


def test_without_a_compiler_the_generator_says_so_once_and_decodes_plainly(
    tiny_model, tiny_tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler-anywhere")
    assert compiling.find_compiler() is None
    gen = Generator(tiny_model, tiny_tokenizer, device="cpu", dtype="float32", compile=True)
    assert gen.compile_note.startswith("--compile needs a C++ compiler") and "decoding without it" in gen.compile_note
    assert gen._step == gen.model.decode_step and len(reply(gen)) == GREEDY.max_new_tokens
    bf16 = Generator(copy.deepcopy(tiny_model), tiny_tokenizer, device="cpu", dtype="bfloat16", compile=True)
    assert bf16.compile_note and bf16.model._plan[0].qkv_w.is_mkldnn  # eager again: packed again


def no_compiler_env() -> dict[str, str]:
    return {**os.environ, "CXX": "no-such-compiler-anywhere", "OMP_NUM_THREADS": "1"}


def test_generate_compile_without_a_compiler_is_one_line_and_the_text(tiny_checkpoint: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "babygpt_tui", "generate", "--model", str(tiny_checkpoint), "--compile"]
        + ["--temperature", "0", "--max-new-tokens", "5", "--prompt", "明"],
        capture_output=True,
        text=True,
        env=no_compiler_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "compile" in line]
    assert len(notes) == 1 and "needs a C++ compiler" in notes[0] and "Traceback" not in proc.stderr
    assert len(proc.stdout.strip()) == 5


def test_generate_refuses_compile_with_exact(tiny_checkpoint: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "babygpt_tui", "generate", "--model", str(tiny_checkpoint), "--compile", "--exact"],
        capture_output=True,
        text=True,
        env=no_compiler_env(),
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--exact" in proc.stderr


def test_the_engine_reports_compiling_as_a_status_then_the_fallback_then_loaded(tiny_checkpoint: Path) -> None:
    """What the TUI shows while it compiles ("compiling…" as its subtitle) comes from here."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=no_compiler_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        from_wire(proc.stdout.readline())  # hello
        proc.stdin.write(to_wire(Load(str(tiny_checkpoint), device="cpu", dtype="float32", compile=True)).encode())
        proc.stdin.flush()
        events = [from_wire(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.stdin.close()
        proc.wait(10)
    status, note, loaded = events
    assert isinstance(status, Log) and status.level == "status" and status.message.startswith("compiling")
    assert isinstance(note, Log) and note.level == "warning" and "C++ compiler" in note.message
    assert isinstance(loaded, Loaded)
