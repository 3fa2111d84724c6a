"""The scrolling transcript: one `TurnView` per turn (prompt, streaming reply, footer).

It stays anchored to the bottom while text streams, unless the person scrolls up; scrolling
back to the bottom re-anchors it (Textual's `anchor`).
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Static

from ...session import Turn
from ..messages import TypedText

FREEZE_AFTER = 200  # characters of streamed tail before its complete lines are frozen
LAYOUT_EVERY = 0.1  # seconds between layout passes while a reply streams
SPARE_ROWS = 3  # empty rows the streaming tail grows into before it needs another layout pass
STOP_LABELS = {"length": "length", "stopped": "■ stopped", "error": "✗ error"}


def estimate_rows(text: str, width: int) -> int:
    """Rows `text` wraps to at `width` cells, counted cheaply (word wrap may need a few more;
    this only decides when to ask for a layout pass, and the finished reply is laid out exactly)."""
    if width <= 0:
        return -1
    return sum(max(1, -(-cell_len(line) // width)) for line in text.split("\n"))


def format_rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"


def footer_text(turn: Turn) -> str:
    """`42 tokens · 850 tok/s · length · seed 7`, plus notes for continue mode and errors."""
    if turn.stop_reason is None:
        return "generating…"
    parts = [f"{turn.tokens} token{'s' if turn.tokens != 1 else ''}"]
    if turn.decode_tokens_per_s:
        parts.append(f"{format_rate(turn.decode_tokens_per_s)} tok/s")
    parts.append(STOP_LABELS.get(turn.stop_reason, turn.stop_reason))
    parts.append(f"seed {turn.seed}")
    if turn.context_mode == "continue":
        parts.append("continued")
    if turn.error:
        parts.append(turn.error)
    return " · ".join(parts)


class TurnView(Vertical):
    """One turn: the prompt, the reply as it streams, and a footer once it has finished.

    Streaming is kept cheap, because a layout pass costs far more than a repaint: complete lines
    move into frozen chunks so only a short tail is re-wrapped per batch; the tail is sized with
    `SPARE_ROWS` to grow into and repainted without layout until it runs out of room; and layout
    passes happen at most every `LAYOUT_EVERY` seconds. When the reply ends, the chunks merge
    back into one auto-sized widget, so long sessions stay light.
    """

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes="turn")
        self.turn = turn
        self._frozen = 0  # characters of the reply already in frozen chunks (plus their newline)
        self._laid_out = 0.0
        self._pending: Timer | None = None
        self._rows = -1  # rows the tail has room for while streaming (-1: not sized yet)

    def compose(self) -> ComposeResult:
        prompt = self.turn.prompt
        yield Static(
            Text(prompt) if prompt else Text("(empty prompt: a new poem from the start)"),
            classes="turn-prompt" + ("" if prompt else " -empty"),
        )
        yield Static(Text(self.turn.reply), classes="turn-reply")
        yield Static(footer_text(self.turn), markup=False, classes="turn-footer")

    def _tail(self) -> Static:
        return self.query(".turn-reply").last(Static)

    def refresh_reply(self) -> None:
        tail = self._tail()
        text = self.turn.reply[self._frozen :]
        cut = text.rfind("\n") if len(text) > FREEZE_AFTER else -1
        if cut >= 0:
            self.mount(Static(Text(text[:cut]), classes="turn-reply -frozen"), before=tail)
            self._frozen += cut + 1
            text = text[cut + 1 :]
            self._rows = -1  # the tail shrank: size it again
        tail.update(Text(text), layout=False)
        rows = estimate_rows(text, tail.content_size.width)
        if rows > self._rows or rows < 0:  # out of room: grow the tail, with spare rows to grow into
            self._rows = rows + SPARE_ROWS
            self._resize_soon()

    def _resize_soon(self) -> None:
        wait = self._laid_out + LAYOUT_EVERY - time.monotonic()
        if wait <= 0:
            self._resize_now()
        elif self._pending is None:
            self._pending = self.set_timer(wait, self._resize_now)

    def _resize_now(self) -> None:
        self._pending = None
        self._laid_out = time.monotonic()
        tail = self._tail()
        if self._rows > 0:
            tail.styles.height = self._rows  # a style change lays the transcript out again
        else:
            tail.styles.height = "auto"

    def finalize(self) -> None:
        """The reply ended: one widget for the whole reply, and the footer."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        self.query(".turn-reply.-frozen").remove()
        self._frozen = 0
        tail = self._tail()
        tail.styles.height = "auto"
        tail.update(Text(self.turn.reply))
        footer = self.query_one(".turn-footer", Static)
        footer.update(footer_text(self.turn))
        footer.set_class(self.turn.stop_reason == "stopped", "-stopped")
        footer.set_class(self.turn.stop_reason == "error", "-error")
        self.set_class(self.turn.stop_reason is not None, "-done")


class Transcript(VerticalScroll):
    """All turns of the conversation, newest at the bottom."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = True

    def compose(self) -> ComposeResult:
        yield Static(
            "Type a prompt below and press Enter. An empty prompt starts a new poem.\n"
            "Ctrl+J inserts a new line · Esc stops · F1 lists every key.",
            id="transcript-hint",
            markup=False,
        )

    def on_mount(self) -> None:
        self.anchor()

    def on_key(self, event: events.Key) -> None:
        if (message := TypedText.from_key(event)) is not None:
            event.stop()
            self.post_message(message)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(TypedText(event.text))

    def _view(self, turn: Turn) -> TurnView | None:
        for view in reversed(self.query(TurnView)):  # the streaming turn is nearly always the last
            if view.turn is turn:
                return view
        return None

    def add_turn(self, turn: Turn) -> None:
        self.query("#transcript-hint").remove()
        self.mount(TurnView(turn))
        self.anchor()

    def remove_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.remove()

    def update_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.refresh_reply()

    def finish_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.finalize()
