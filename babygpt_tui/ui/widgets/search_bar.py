"""Ctrl+F: a search box above the transcript. Typing finds the first turn (prompt or any of its
replies) holding the text; Enter / ↓ the next, ↑ the previous; the count says `2/5`; Esc closes.
The transcript selects the turn found (`Transcript.find`); the app routes `Find` to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static


class SearchBar(Horizontal):
    @dataclass
    class Find(Message):
        """Find `text`: step 0 from the selected turn on, +1 the next match, -1 the previous."""

        bar: SearchBar
        text: str
        step: int

    @dataclass
    class Closed(Message):
        bar: SearchBar

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="Find in the transcript — Enter/↓ next, ↑ previous, Esc closes", compact=True, id="search-input"
        )
        yield Static("", id="search-count", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Find(self, event.value, 0))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Find(self, event.value, 1))

    def on_key(self, event: events.Key) -> None:
        if event.key in ("up", "down"):
            event.stop()
            self.post_message(self.Find(self, self.query_one(Input).value, -1 if event.key == "up" else 1))
        elif event.key == "escape":
            event.stop()
            self.post_message(self.Closed(self))

    def show_count(self, at: int | None, count: int) -> None:
        """`2/5`, or `no match` (at None with text typed)."""
        text = self.query_one(Input).value
        label = "" if not text else f"{at + 1}/{count}" if at is not None else "no match"
        self.query_one("#search-count", Static).update(label)
