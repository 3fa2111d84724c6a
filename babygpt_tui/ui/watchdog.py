"""A last resort for ending the TUI after SIGTERM / SIGHUP.

When a terminal window closes, its pty goes first and the signal follows. The session is saved and
the engine ended before Textual shuts down (`BabyGPTApp.exit`), but Textual's own last writes to the
terminal that is gone can then block for good (its writer thread's bounded queue stops draining),
and with the event loop stuck no later signal is handled either. So the first signal arms a timer
that ends the process by that signal if the orderly shutdown has not finished by then.
"""

from __future__ import annotations

import os
import signal
import threading

GRACE_S = 10.0  # far more than a save and Textual's shutdown take; only a stuck shutdown waits it out


def arm(sig: int, seconds: float = GRACE_S) -> threading.Timer:
    """End this process by `sig` in `seconds` unless it has ended by then."""

    def end() -> None:
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)

    timer = threading.Timer(seconds, end)
    timer.daemon = True  # a normal exit does not wait for it
    timer.start()
    return timer
