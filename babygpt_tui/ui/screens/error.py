"""Shown when the app cannot start: the model cannot be loaded (which file, what is wrong, how
to fix it), or config.toml / a flag / --session is wrong (`StartupErrorApp`, before any model
is loaded). Either way the person reads the problem in the window, not in a traceback, with the
advice for that problem: a settings error points at config.toml, a session file at the sessions.

Every string shown may come from a file (a path, a session's name, a checkpoint's metadata in the
reason): control characters are shown as escapes."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from ...escape import escape_controls

FIXES = """How to fix:
  • pass a model file:
      babygpt-tui --model PATH/model.safetensors
  • an upstream model.pth also needs its training text:
      babygpt-tui --model model.pth --vocab-from corpus.txt
  • or train a small one (--preset tiny takes minutes on a CPU):
      babygpt-tui train --data corpus.txt --out m.safetensors
  • check a file without the TUI:
      babygpt-tui info --model PATH"""

STARTUP_FIXES = """How to fix:
  • edit the file and key named above (every key is documented in config.example.toml)
  • see the effective settings and where each comes from:
      babygpt-tui config show
  • see where config and sessions live:
      babygpt-tui paths
  • list the saved sessions (for --session NAME):
      babygpt-tui sessions list"""


SESSION_FIXES = """How to fix:
  • the file named above is not a session this version can read: move it aside or delete it
    (it is left as it was), or open another one:
      babygpt-tui --session ANOTHER-NAME
  • list the saved sessions, with the unreadable ones marked:
      babygpt-tui sessions list
  • see where sessions live:
      babygpt-tui paths
  • start without --session: a fresh session, the saved ones stay in F2"""


class ErrorScreen(Screen[None]):
    BINDINGS = [Binding("q,escape,enter", "app.quit", "Quit")]

    def __init__(
        self,
        path: str,
        error: str,
        user_error: bool = True,
        title: str = "The model could not be loaded",
        fixes: str = FIXES,
    ) -> None:
        super().__init__()
        self.path, self.error, self.user_error = path, error, user_error
        self.title_text, self.fixes = title, fixes

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Static(Text(self.title_text, style="bold"), id="error-title")
            if self.path:
                yield Static(Text.assemble(("file:   ", "bold"), escape_controls(self.path)), id="error-path")
            reason = escape_controls(self.error, keep="\n")
            yield Static(Text.assemble(("reason: ", "bold"), reason), id="error-reason")
            if not self.user_error:
                yield Static(Text("This looks like a bug — please report it with the message above."), id="error-bug")
            yield Static(Text(self.fixes), id="error-fix")
            yield Static(Text("Press q, Esc or Enter to quit.", style="dim"), id="error-quit")

    def on_mount(self) -> None:
        self.query_one("#error-box").border_title = "babygpt-tui"


class StartupErrorApp(App[None]):
    """The whole app when the settings are wrong: one error screen, nothing loaded.

    `babygpt-tui` then also prints the message and exits with code 2 (see commands/tui.py), so
    it stays in the terminal after the window closes."""

    CSS_PATH = "../app.tcss"
    TITLE = "babygpt-tui"

    def __init__(self, error: str, fixes: str = STARTUP_FIXES) -> None:
        """`fixes`: the advice for what went wrong (STARTUP_FIXES for settings, SESSION_FIXES for
        a --session file)."""
        super().__init__()
        self.error, self.fixes = error, fixes

    def on_mount(self) -> None:
        self.push_screen(ErrorScreen("", self.error, title="babygpt-tui cannot start", fixes=self.fixes))
