"""Crash-safe file replacement, shared by sessions and config.toml.

A reader (or a crash at any instant) sees either the old file or the new one, never a mix:
the bytes go to a temporary file in the *same directory* (so `os.replace` is a rename within
one filesystem, which POSIX and Windows make atomic), are flushed and fsynced to disk, and only
then replace the old name. The directory is fsynced afterwards where the OS allows it, so the
rename itself survives a power cut. Any failure removes the temporary file and re-raises the
OSError, leaving the previous file untouched; callers turn it into a user-facing message.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"  # listings skip dot-files ending in this (leftovers of a kill -9)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (creating its directory if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # BaseException too: a Ctrl+C mid-write must not leave a stray temp file behind.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename. Best effort: Windows cannot open a directory, some filesystems refuse."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
