"""Corpora (`score FILE`, `train --data`, `--vocab-from`) and config files are read with a size
cap, and only from regular files: `score /dev/zero` grew to 5.5 GB in 6 s, a FIFO hung forever."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from babygpt_tui.cli import main
from babygpt_tui.config import ConfigError, read_config_file
from babygpt_tui.engine.data import read_corpus
from babygpt_tui.engine.errors import DataError

CLI = [sys.executable, "-m", "babygpt_tui.cli"]
MEMORY_GUARD = 1536 * 1024 * 1024  # bytes of address space: torch loads; a 5 GB read cannot happen


def guarded() -> None:
    """In the child: if the cap regressed, a MemoryError ends the test, not the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_GUARD, MEMORY_GUARD))


def score(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # The timeout guards against the FIFO hang coming back; it is not a speed assertion.
    return subprocess.run([*CLI, "score", *args], capture_output=True, timeout=60, preexec_fn=guarded, env=env)


def test_score_dev_zero_is_refused_at_once() -> None:
    done = score("/dev/zero")
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert done.stderr.decode().strip() == (
        "babygpt-tui: error: /dev/zero: is a character device, not a regular file; "
        "score FILE takes a UTF-8 text file of at most 256 MiB"
    )


def test_score_of_a_fifo_is_refused_instead_of_waiting_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    done = score(str(fifo))
    assert done.returncode == 2 and b"is a FIFO (named pipe), not a regular file" in done.stderr


@pytest.mark.parametrize("flag", ["--data", "--vocab-from", "score FILE"])
def test_every_corpus_reader_refuses_devices_fifos_and_directories(tmp_path: Path, flag: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in [("/dev/zero", "a character device"), (fifo, "a FIFO"), (tmp_path, "a directory")]:
        with pytest.raises(DataError, match=f"is {kind}.*; {flag} takes a UTF-8 text file") as e:
            read_corpus(path, flag=flag)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_corpus_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # sparse: no disk used
        f.truncate(1001)
    with pytest.raises(DataError, match=r"is too large \(1,001 bytes; at most 1,000 are read\)"):
        read_corpus(big, limit=1000)
    small = tmp_path / "small.txt"
    small.write_bytes(b"line one\r\nline two\r\n")  # Windows line endings read as open().read() does
    assert read_corpus(small, limit=1000) == "line one\nline two\n"


def test_a_link_to_a_regular_corpus_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("明月几时有\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    assert read_corpus(tmp_path / "link.txt") == "明月几时有\n"


def test_config_files_are_capped_and_must_be_regular_files(tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="is a character device, not a regular file"):
        read_config_file(Path("/dev/zero"))
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    assert main(["--config", str(fifo), "config", "show"]) == 2
    assert "is a FIFO (named pipe)" in capsys.readouterr().err
