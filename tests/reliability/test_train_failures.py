"""`babygpt-tui train` when things go wrong: every case ends in one line and a non-zero exit,
never a traceback, and leaves no temp file behind.

Full and read-only disks are real small tmpfs mounts (the suite runs as root; elsewhere these
cases skip)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from babygpt_tui.cli import main
from babygpt_tui.engine.train import resume_path
from tests.plugins.training import TINY_TRAIN_FLAGS

TINY = [*TINY_TRAIN_FLAGS, "--threads", "1", "--quiet"]


@pytest.fixture
def corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus * 3, encoding="utf-8")
    return path


def train(capsys: pytest.CaptureFixture[str], corpus: Path, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["train", "--data", str(corpus), "--out", str(out), *TINY, *extra])
    return code, capsys.readouterr().err


def error_line(err: str) -> str:
    """The one `babygpt-tui: error:` line; asserts there is exactly one and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("babygpt-tui: error:")]
    assert len(lines) == 1, err
    return lines[0]


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[object]:
    """`tmpfs(size, read_only=False)` mounts a fresh tmpfs and returns its path; all are
    unmounted at the end."""
    mounted: list[Path] = []

    def mount(size: str, read_only: bool = False) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); needs root")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        # Lazy: a failing test may still hold a file open in its traceback.
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_seed_beyond_64_bits_is_one_line(capsys, corpus: Path, tmp_path: Path) -> None:
    code, err = train(capsys, corpus, tmp_path / "m.safetensors", "--max-iters", "2", "--seed", str(2**70))
    assert code == 2
    assert "--seed" in error_line(err)


def test_negative_threads_is_one_line(capsys, corpus: Path, tmp_path: Path) -> None:
    code, err = train(capsys, corpus, tmp_path / "m.safetensors", "--max-iters", "2", "--threads", "-1")
    assert code == 2
    assert "--threads" in error_line(err)


def test_out_in_a_read_only_folder_is_refused_before_training(capsys, corpus: Path, tmpfs) -> None:
    folder = tmpfs("64k", read_only=True)
    code, err = train(capsys, corpus, folder / "m.safetensors", "--max-iters", "5")
    assert code == 2
    line = error_line(err)
    assert str(folder) in line and "read-only" in line.lower()
    assert "iter " not in err  # refused before the first step, not after an eval interval of work


def test_out_an_existing_folder_is_refused(capsys, corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    code, err = train(capsys, corpus, folder, "--max-iters", "2")
    assert code == 2
    line = error_line(err)
    assert str(folder) in line and "folder" in line
    assert list(folder.iterdir()) == []


def test_full_disk_on_first_run_is_one_line_and_leaves_no_temp_file(capsys, corpus: Path, tmpfs) -> None:
    folder = tmpfs("64k")  # the tiny model fits; its resume state (weights + optimizer) does not
    code, err = train(capsys, corpus, folder / "m.safetensors", "--max-iters", "4", "--eval-interval", "2")
    assert code == 2
    assert "disk is full" in error_line(err)
    assert temp_files(folder) == []
    assert not resume_path(folder / "m.safetensors").exists()


def test_full_disk_on_resume_keeps_the_last_state_and_leaves_no_temp_file(capsys, corpus: Path, tmpfs) -> None:
    folder = tmpfs("1m")
    out = folder / "m.safetensors"
    code, err = train(capsys, corpus, out, "--max-iters", "4", "--eval-interval", "2")
    assert code == 0, err
    before = resume_path(out).read_bytes()
    # Fill what is left, then resume: the next save cannot be written.
    fill(folder / "filler")
    code, err = train(capsys, corpus, out, "--max-iters", "8", "--eval-interval", "2", "--resume")
    assert code == 2
    line = error_line(err)
    assert "disk is full" in line and "iteration 4" in line  # says where the saved state stands
    assert resume_path(out).read_bytes() == before
    assert temp_files(folder) == []


def fill(path: Path) -> None:
    """Write zeros to `path` until the disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _crafted_resume(corpus: Path, tmp_path: Path, capsys, change) -> tuple[int, str, Path]:
    out = tmp_path / "m.safetensors"
    code, err = train(capsys, corpus, out, "--max-iters", "2")
    assert code == 0, err
    state = torch.load(resume_path(out), weights_only=True)
    change(state)
    torch.save(state, resume_path(out))
    code, err = train(capsys, corpus, out, "--max-iters", "4", "--resume")
    return code, err, resume_path(out)


@pytest.mark.parametrize(
    "change,says",
    [
        (lambda s: s.update(surprise=1), "surprise"),
        (lambda s: s.pop("model_config"), "model_config"),
        (lambda s: s.update(iter="twelve"), "iter"),
        (lambda s: s.update(iter=2.5), "iter"),
        (lambda s: s.update(model_config="{not json"), "model_config"),
        (lambda s: s.update(vocab=json.dumps(["a", "a"])), "vocab"),
    ],
    ids=["unknown-key", "missing-model-config", "iter-a-string", "iter-a-float", "config-not-json", "bad-vocab"],
)
def test_crafted_resume_file_is_one_line(capsys, corpus: Path, tmp_path: Path, change, says: str) -> None:
    code, err, path = _crafted_resume(corpus, tmp_path, capsys, change)
    assert code == 2
    line = error_line(err)
    assert str(path) in line and says in line


def test_resume_file_that_is_not_a_dict_is_one_line(capsys, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    torch.save([1, 2, 3], resume_path(out))
    code, err = train(capsys, corpus, out, "--max-iters", "4", "--resume")
    assert code == 2
    assert str(resume_path(out)) in error_line(err)


def test_lr_inf_is_refused(capsys, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    code, err = train(capsys, corpus, out, "--max-iters", "20", "--lr", "inf")
    assert code == 2
    assert "--lr" in error_line(err)
    assert not out.exists()


def test_a_diverging_run_stops_says_so_and_claims_no_model(capsys, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    code, err = train(capsys, corpus, out, "--max-iters", "200", "--eval-interval", "100", "--lr", "1e30")
    assert code != 0
    line = error_line(err)
    assert "not finite" in line and "--lr" in line
    assert "model:" not in err  # no model file is claimed
    assert not out.exists() and temp_files(tmp_path) == []
