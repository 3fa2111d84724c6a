"""No control character from a file reaches the terminal through anything the TUI draws.

Textual sends a control character in a widget's text to the terminal as it is (a BEL is dropped;
ESC, C1 controls and bidirectional overrides are not), so `ESC[2J` in a session's prompt, a
model's metadata or its vocabulary would clear the screen or reorder what a person reads. Text
the app draws itself is made visible first (`escape.escape_controls`, or one for one with
`escape.visible_controls` where positions matter: replies, the inspector); `ControlFilter`, a
line filter on every line of every widget, then drops whatever control character is left.
Textual counts a control character as zero cells wide, so dropping it keeps every line's width.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from ..escape import CONTROL_RE


class ControlFilter(LineFilter):
    """Drops control characters from every drawn segment (see the module docstring)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if not any(CONTROL_RE.search(segment.text) for segment in segments if not segment.control):
            return segments
        return [
            segment if segment.control else Segment(CONTROL_RE.sub("", segment.text), segment.style)
            for segment in segments
        ]
