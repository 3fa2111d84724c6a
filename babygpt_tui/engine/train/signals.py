"""Ctrl+C and SIGTERM stop training after the current step, with the state saved."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Protocol


class Stoppable(Protocol):
    stop_asked: bool

    def request_stop(self, *_: object) -> None: ...


def install_signal_handlers(trainer: Stoppable) -> None:
    """Ctrl+C or SIGTERM stop after the current step and save resumable state; a second
    Ctrl+C interrupts at once (the last eval's resume file is still there). Under torchrun the
    launcher forwards the signal to every process; they agree on the step to stop at."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if trainer.stop_asked and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.request_stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
        # Restart interrupted system calls (a socket read of gloo's, a file write) instead of
        # failing them with EINTR; the handler still runs at the next step.
        signal.siginterrupt(signum, False)
