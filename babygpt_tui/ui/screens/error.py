"""Shown when the model cannot be loaded at start-up: which file, what is wrong, how to fix it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

FIXES = """How to fix:
  • pass a model file:
      babygpt-tui --model PATH/model.safetensors
  • an upstream model.pth also needs its training text:
      babygpt-tui --model model.pth --vocab-from corpus.txt
  • or train a small one (--preset tiny takes minutes on a CPU):
      babygpt-tui train --data corpus.txt --out m.safetensors
  • check a file without the TUI:
      babygpt-tui info --model PATH"""


class ErrorScreen(Screen[None]):
    BINDINGS = [Binding("q,escape,enter", "app.quit", "Quit")]

    def __init__(self, path: str, error: str, user_error: bool = True) -> None:
        super().__init__()
        self.path, self.error, self.user_error = path, error, user_error

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Static(Text("The model could not be loaded", style="bold"), id="error-title")
            yield Static(Text.assemble(("file:   ", "bold"), self.path), id="error-path")
            yield Static(Text.assemble(("reason: ", "bold"), self.error), id="error-reason")
            if not self.user_error:
                yield Static(Text("This looks like a bug — please report it with the message above."), id="error-bug")
            yield Static(Text(FIXES), id="error-fix")
            yield Static(Text("Press q, Esc or Enter to quit.", style="dim"), id="error-quit")

    def on_mount(self) -> None:
        self.query_one("#error-box").border_title = "babygpt-tui"
