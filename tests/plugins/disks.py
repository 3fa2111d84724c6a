"""Real filesystem fixtures for the write-failure tests: a tiny tmpfs that fills up, and a
character device. Both need root (mount, mknod); without it the tests that use them skip.
Registered by `tests/conftest.py` as a plugin."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FULL_DISK_BYTES = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on its own 64 KiB tmpfs: writes past that fail with ENOSPC, as on a full disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FULL_DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def null_device(tmp_path: Path) -> Path:
    """A character device node of /dev/null's kind, in tmp_path: replacing it harms nothing."""
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.close(os.open(node, os.O_WRONLY))
    except OSError as e:
        pytest.skip(f"cannot create a device node here (needs root): {e}")
    return node
