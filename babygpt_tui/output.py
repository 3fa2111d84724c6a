"""Every byte written, or a one-line error: checked writes to files and to standard output.

Python's own stdout loses output silently: on a full disk `write(2)` stores part of a large
write, `BufferedWriter` returns the short count and `print` ignores it, so `sessions export >
file` ended with exit 0 and a truncated file. Here a write loops until every byte is stored and
any refusal is an exception; `checked_stdout()` (installed by `cli.main` for the headless
commands) routes `print`, rich consoles and `sys.stdout.write` through it. A closed stdout
(`>&-`), a full disk or an I/O error becomes an `OutputError` (one line, exit 2); a reader that
went away (`| head`) stays a BrokenPipeError, which `cli.main` ends quietly. No torch, no textual.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import sys
from collections.abc import Iterator
from typing import TextIO, cast

from .errors import UserError

CHUNK = 1 << 20  # bytes per write(2): large enough to be fast, small enough to report progress


class OutputError(UserError):
    """Standard output is closed, full or failing; the message says which and why."""


def why(e: OSError) -> str:
    """The reason in words a user understands (shared by every writer's message)."""
    if e.errno == errno.ENOSPC:
        return "the disk is full"
    if e.errno == errno.EDQUOT:
        return "the disk quota is exceeded"
    if e.errno == errno.EBADF:
        return "it is closed"
    return e.strerror or str(e)


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, or raise OSError: a short write is continued, never ignored."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view[:CHUNK])
        except BlockingIOError:  # a non-blocking pipe is full: wait until the reader catches up
            select.select([], [fd], [])
            continue
        if n <= 0:  # no progress and no error: treat it as the device refusing the data
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        view = view[n:]


class CheckedStdout:
    """A text stream over the real stdout whose every write is complete or raises.

    Streams without a file descriptor (pytest's capture, StringIO) are written as they are."""

    def __init__(self, inner: TextIO | None) -> None:
        self.inner = inner
        self.encoding = getattr(inner, "encoding", None) or "utf-8"
        self.errors = "backslashreplace"  # a character the terminal cannot show: never an exception

    def _fd(self) -> int | None:
        if self.inner is None:
            raise OutputError("cannot write to standard output: it is closed")
        try:
            fd = self.inner.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            return None
        return fd if fd >= 0 else None  # Textual's print capture says -1: write to it as it is

    def write(self, text: str) -> int:
        fd = self._fd()
        assert self.inner is not None
        try:
            if fd is None:
                self.inner.write(text)
            else:
                self.inner.flush()  # anything written before we were installed goes first
                write_all(fd, text.encode(self.encoding, self.errors))
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"cannot write to standard output: {why(e)}") from None
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered here; a closed stdout raises OutputError (a cheap early check)."""
        if self._fd() is None:
            assert self.inner is not None
            self.inner.flush()

    def isatty(self) -> bool:
        try:
            return self.inner is not None and self.inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        fd = self._fd()
        if fd is None:
            raise io.UnsupportedOperation("fileno")
        return fd

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def checked_stdout() -> Iterator[CheckedStdout]:
    """Route `sys.stdout` through a `CheckedStdout` while the block runs."""
    previous = sys.stdout
    checked = CheckedStdout(previous)
    sys.stdout = cast(TextIO, checked)
    try:
        yield checked
    finally:
        sys.stdout = previous
