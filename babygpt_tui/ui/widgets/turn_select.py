"""The transcript's selected turn: ↑/↓ on the transcript (outside inspect mode) select a turn,
which Ctrl+O copies, Enter edits (its prompt goes to the box; sending it makes a new turn), F3
replays and `[` / `]` browse; Ctrl+F's search selects the turns it finds. Esc clears it.

`TurnSelection` is mixed into `Transcript` like `InspectMode`: the transcript owns the state
(`selected`) and the views; each selected `TurnView` carries the `-selected` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.message import Message
from textual.widget import Widget

from ...session import Turn

if TYPE_CHECKING:
    from .transcript import TurnView

    _Mixin = Widget
else:
    _Mixin = object

SELECT_KEYS = {"up", "down", "escape", "enter"}


class TurnSelection(_Mixin):
    """Methods of `Transcript` for the selected turn (a mixin: it has no state of its own)."""

    selected: Turn | None
    cursor: tuple[Turn, int] | None

    @dataclass
    class EditPrompt(Message):
        """Enter on a selected turn: put its prompt in the box, to edit and send as a new turn."""

        turn: Turn

    def _views(self) -> list[TurnView]:
        raise NotImplementedError  # the transcript's

    def _view(self, turn: Turn) -> TurnView | None:
        raise NotImplementedError  # the transcript's

    def select_key(self, event: events.Key) -> bool:
        """↑/↓ select, Enter edits, Esc clears (outside inspect mode); False if not ours."""
        key = event.key
        if self.cursor is not None or key not in SELECT_KEYS:
            return False
        if key in ("escape", "enter") and self.selected is None:
            return False
        views = self._views()
        if not views:
            return False
        event.stop()
        event.prevent_default()
        if key == "escape":
            self.select(None)
        elif key == "enter":
            assert self.selected is not None
            self.post_message(self.EditPrompt(self.selected))
        else:
            turns = [view.turn for view in views]
            at = next((i for i, t in enumerate(turns) if t is self.selected), len(turns))  # none: from below
            self.select(turns[max(0, min(len(turns) - 1, at + (-1 if key == "up" else 1)))])
        return True

    def select(self, turn: Turn | None) -> None:
        """Select `turn` (scrolled into view) or nothing."""
        if self.selected is not None and (old := self._view(self.selected)) is not None:
            old.remove_class("-selected")
        self.selected = turn
        if turn is not None and (view := self._view(turn)) is not None:
            view.add_class("-selected")
            self.scroll_to_widget(view, animate=False, immediate=True)

    def selected_index(self, turns: list[Turn]) -> int | None:
        """The index in `turns` of the selected (or inspected) turn, or None."""
        target = self.cursor[0] if self.cursor is not None else self.selected
        if target is None:
            return None
        return next((i for i, t in enumerate(turns) if t is target), None)
