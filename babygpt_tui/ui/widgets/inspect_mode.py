"""The transcript's inspect mode: a cursor on one reply character, moved by click, arrows,
Home/End and PageUp/PageDown (lines and characters flow on into the neighbouring replies).

`InspectMode` is mixed into `Transcript`, which owns the state (`cursor`), the `Inspected`
message it posts on every move, and `_view(turn)`. Each `TurnView` knows only its own cursor
index and draws it (see `heatmap.ReplyChunk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.geometry import Region, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ...session import Turn
from .heatmap import ReplyChunk, move

if TYPE_CHECKING:
    from .transcript import TurnView

CURSOR_KEYS = {"left", "right", "up", "down", "home", "end", "pageup", "pagedown", "enter", "escape"}


# A mixin of Transcript (a VerticalScroll); typed as a Widget, but not one at run time, so it
# adds no widget type (CSS, bindings) of its own to the transcript's.
if TYPE_CHECKING:
    _Mixin = Widget
else:
    _Mixin = object


class InspectMode(_Mixin):
    """Methods of `Transcript` for inspect mode (a mixin: it has no state of its own)."""

    cursor: tuple[Turn, int] | None
    hidden: list[Turn]  # older turns not shown (not mounted) yet
    heatmap: reactive[bool]

    @dataclass
    class Inspected(Message):
        """The inspect cursor moved to reply character `index` of `turn`, the `number`-th turn
        (turn None: inspect mode ended). `pick`: the person wants to pick an alternative."""

        turn: Turn | None
        index: int = 0
        number: int = 0
        pick: bool = False

    def _views(self) -> list[TurnView]:
        return list(self.query("TurnView"))  # type: ignore[arg-type]  # TurnView, by its CSS type name

    def _view(self, turn: Turn) -> TurnView | None:
        raise NotImplementedError  # the transcript's

    def cursor_key(self, event: events.Key) -> bool:
        """Handle a key in inspect mode (←/→ also start it); False if it is not one of ours."""
        key = event.key
        if key not in CURSOR_KEYS or (self.cursor is None and key not in ("left", "right")):
            return False
        event.stop()
        event.prevent_default()
        if self.cursor is None:
            self.inspect_last()
        elif key == "escape":
            self.inspect(None)
        elif key == "enter":
            self.inspect(*self.cursor, pick=True)
        else:
            self._move(key)
        return True

    def on_click(self, event: events.Click) -> None:
        widget, _ = self.screen.get_widget_at(event.screen_x, event.screen_y)
        if not isinstance(widget, ReplyChunk):
            return
        offset = event.get_content_offset(widget)
        if offset is not None and (index := widget.char_at(offset.x, offset.y)) is not None:
            self.focus()
            self.inspect(widget.view.turn, index)

    def inspect(self, turn: Turn | None, index: int = 0, pick: bool = False) -> None:
        """Put the cursor on reply character `index` of `turn`; None leaves inspect mode."""
        old = self._view(self.cursor[0]) if self.cursor is not None else None
        new = self._view(turn) if turn is not None and turn.reply else None
        index = max(0, min(index, len(turn.reply) - 1)) if new is not None and turn is not None else 0
        moved = [old.turn.reply[old.cursor]] if old is not None and old.cursor is not None else []
        self.cursor = (new.turn, index) if new is not None else None
        if old is not None and old is not new:
            old.cursor = None
            old.redraw(layout="\n" in moved and not self.heatmap)
        if new is not None:
            new.cursor = index
            new.redraw(layout="\n" in moved + [new.turn.reply[index]] and not self.heatmap)
            self.call_after_refresh(self._scroll_to_cursor)
        number = self._views().index(new) + 1 + len(self.hidden) if new is not None else 0
        self.post_message(self.Inspected(new.turn if new is not None else None, index, number, pick))

    def inspect_last(self, pick: bool = False) -> None:
        """Inspect mode on the last character of the newest reply (F4 returns to the cursor);
        `pick`: and go to the alternatives, to branch."""
        self.focus()
        if self.cursor is not None:
            self.inspect(*self.cursor, pick=pick)
        elif views := [view for view in self._views() if view.turn.reply]:
            self.inspect(views[-1].turn, len(views[-1].turn.reply) - 1, pick=pick)
        else:
            self.notify("Nothing to inspect yet: send a prompt first.", severity="warning")

    def _move(self, key: str) -> None:
        assert self.cursor is not None
        views = self._views()
        at = next((i for i, view in enumerate(views) if view.turn is self.cursor[0]), None)
        if at is None:
            self.inspect(None)
            return
        turn, index = move([view.turn.reply for view in views], (at, self.cursor[1]), key)
        self.inspect(views[turn].turn, index)

    def _scroll_to_cursor(self) -> None:
        if self.cursor is None or (view := self._view(self.cursor[0])) is None:
            return
        if (chunk := view.chunk_of(self.cursor[1])) is not None:
            row = chunk.row_of(self.cursor[1])
            y = chunk.content_region.y - self.content_region.y + self.scroll_offset.y + row
            self.scroll_to_region(Region(0, y, 1, 1), spacing=Spacing(1, 0, 1, 0), animate=False, immediate=True)
