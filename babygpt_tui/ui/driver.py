"""Textual's Linux/macOS driver, surviving a terminal that has gone away.

When a terminal window closes, writes to its pty fail (EIO). Textual's writer thread dies on the
first such error, its bounded queue then fills, and the event loop blocks for good in the next
write: the reply in progress is never saved, SIGHUP is never handled, the process lingers. Here a
failed write marks the terminal gone, drops the output, and asks the app to quit as SIGHUP would
(save the reply, end the engine), so the loop never blocks on a terminal nobody can see.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class _TerminalOutput:
    """The file the writer thread writes to: errors end the output, never the thread."""

    def __init__(self, file: IO[str], gone: Callable[[], None]) -> None:
        self._file, self._gone, self.is_gone = file, gone, False

    def write(self, text: str) -> int:
        if not self.is_gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO / EPIPE: the terminal went; ValueError: stderr closed
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.is_gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._lost()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True

    def _lost(self) -> None:
        self.is_gone = True
        self._gone()


class TerminalDriver(LinuxDriver):
    """`LinuxDriver` whose output survives the terminal going away (see the module doc)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        # Textual declares its file a TextIOWrapper; the writer thread uses write/flush/fileno only.
        self._file = _TerminalOutput(sys.__stderr__, self._terminal_gone)  # type: ignore[arg-type,assignment]

    def _terminal_gone(self) -> None:
        """In the writer thread: hand over to the event loop, which quits as on SIGHUP."""
        loop, quit_on_signal = self._app._loop, getattr(self._app, "quit_on_signal", None)
        if loop is not None and quit_on_signal is not None and not loop.is_closed():
            loop.call_soon_threadsafe(quit_on_signal, signal.SIGHUP)
