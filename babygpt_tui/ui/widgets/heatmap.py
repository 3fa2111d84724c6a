"""A reply's text as the transcript shows it: plain, or coloured by each character's probability
(the heat-map), with the inspector's cursor; plus the sidebar legend, the click → character
mapping and the cursor's moves between characters, lines and replies.

Colours are component classes (`heat--0` … `heat--5`, `reply--cursor`) styled in app.tcss with
theme variables. They are resolved against the widget's own background (`get_visual_style`), so
translucent tints blend correctly on dark and light themes, and again whenever the theme changes
(a style update clears Textual's cache and refreshes the widget, and `render` builds anew).

A newline token has no cell of its own; when it is coloured or under the cursor, one cell is
added before the line break (a space, or ↵ under the cursor). It sits at column len(line), so
(line, column) still maps to the reply's characters one to one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import get_character_cell_size
from textual.content import Content, Span
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Static

from ...escape import visible_controls
from ...token_record import TokenRecord
from ..token_info import HEAT_EDGES, HEAT_LABELS
from ..ui_state import HeatEncoding
from .heat_palette import band_styles
from .prompt_lead import NO_LEAD, PROMPT_CLASS, SKIPPED_CLASS, Lead, prompt_lead

if TYPE_CHECKING:
    from .transcript import TurnView

HEAT_CLASSES = tuple(f"heat--{i}" for i in range(len(HEAT_LABELS)))
CURSOR_CLASS = "reply--cursor"
MARKS_SAMPLE = "字字 "  # what the legend shows per band in "marks" mode (a blank swatch shows no underline)


def heat_encoding(widget: Widget) -> HeatEncoding:
    """How the app encodes the bands now ("colour" or "marks", Ctrl+G); the app owns the setting."""
    encoding: HeatEncoding = getattr(widget.app, "heat_encoding", "colour")
    return encoding


def heat_styles(widget: Widget) -> tuple[Style, ...]:
    """The six band styles for `widget`, for the terminal's colour system (see heat_palette)."""
    app = widget.app
    system = None if app.no_color else app.console.color_system
    return band_styles(
        system, app.current_theme.dark, heat_encoding(widget), lambda i: widget.get_visual_style(HEAT_CLASSES[i])
    )


def reply_content(
    text: str,
    start: int,
    records: Sequence[TokenRecord],
    heat: Sequence[Style] | None,
    cursor: int | None = None,
    cursor_style: Style | None = None,
) -> Content:
    """`text` (the reply from character `start` on) with a heat style per character and the
    cursor's style on reply character `cursor`. Runs of one style become one span."""
    if heat is None and (cursor is None or not start <= cursor < start + len(text)):
        return Content(text)
    probs = [r.prob for r in records[start : start + len(text)]] if heat else []
    pieces: list[str] = []
    spans: list[Span] = []
    run_style: Style | None = None
    run_start = length = 0
    for i, char in enumerate(text):
        at = start + i
        style = None
        if at == cursor:
            style = cursor_style
        elif heat is not None and i < len(probs):
            style = heat[bisect_right(HEAT_EDGES, probs[i])]
        if char == "\n" and style is not None:
            char = ("↵" if at == cursor else " ") + "\n"
        if style is not run_style:
            if run_style is not None:
                spans.append(Span(run_start, length, run_style))
            run_style, run_start = style, length
        pieces.append(char)
        length += len(char)
    if run_style is not None:
        spans.append(Span(run_start, length, run_style))
    return Content("".join(pieces), spans=spans)


class ReplyChunk(Static):
    """Reply characters `start` to `end` (None: to the end, the streaming tail) of a TurnView;
    the chunk at `start` 0 draws the prompt first (`prompt_lead`), so the reply continues its line.

    The content is built from the turn on every render, so the heat-map, the cursor and the
    theme are always current; the last build is cached for the layout's repeated calls."""

    COMPONENT_CLASSES = set(HEAT_CLASSES) | {CURSOR_CLASS, PROMPT_CLASS, SKIPPED_CLASS}

    def __init__(self, view: TurnView, start: int = 0, end: int | None = None, classes: str = "turn-reply") -> None:
        super().__init__(classes=classes)
        self.view, self.start, self.end = view, start, end
        self._built: tuple[tuple[object, ...], Content] | None = None
        self.lead = NO_LEAD  # the prompt drawn before the reply (first chunk only)

    @property
    def text(self) -> str:
        reply = self.view.turn.reply
        return reply[self.start : self.end] if self.end is not None else reply[self.start :]

    def render(self) -> Content:
        view = self.view
        heat = heat_styles(self) if view.heatmap else None
        cursor = view.cursor
        cursor_style = self.get_visual_style(CURSOR_CLASS) if cursor is not None else None
        text = self.text
        turn = view.turn
        lead_styles = (self.get_visual_style(PROMPT_CLASS), self.get_visual_style(SKIPPED_CLASS))
        lead_key = (turn.prompt, turn.skipped, lead_styles) if self.start == 0 else None
        key = (self.start, len(text), len(turn.records), heat, cursor, cursor_style, lead_key)
        if self._built is None or self._built[0] != key:
            text = visible_controls(text)  # one for one: clicks and the cursor still map to the same index
            prompt = visible_controls(turn.prompt)  # a prompt from a session file: its controls shown, not sent
            self.lead = prompt_lead(prompt, turn.skipped, *lead_styles) if lead_key else NO_LEAD
            reply = reply_content(text, self.start, turn.records, heat, cursor, cursor_style)
            self._built = (key, self.lead.content + reply if self.lead is not NO_LEAD else reply)
        return self._built[1]

    def char_at(self, x: int, y: int) -> int | None:
        """The reply index of the character drawn at content offset (x, y), or None."""
        offset = self._offset_at(x, y)
        if offset is None or (offset := self._lead().to_reply(*offset)) is None:
            return None
        col, line = offset
        text = self.text
        if not text:
            return None
        line_start = 0
        for _ in range(line):
            found = text.find("\n", line_start)
            if found < 0:
                break
            line_start = found + 1
        line_end = text.find("\n", line_start)
        line_end = len(text) - 1 if line_end < 0 else line_end  # the newline, or the last char
        return self.start + min(line_start + col, line_end)

    def row_of(self, index: int) -> int:
        """The content row that draws reply character `index` (to scroll the cursor into view)."""
        text, i = self.text, index - self.start
        target = self._lead().to_content(text.count("\n", 0, i), i - (text.rfind("\n", 0, i) + 1))
        row = 0
        for y in range(self.content_size.height):
            starts = [
                s.style.meta["offset"]
                for s in self.render_line(y)
                if s.style is not None and s.style._meta and s.style.meta.get("offset", (0, None))[1] is not None
            ]
            if starts:
                if (starts[0][1], starts[0][0]) > target:
                    break
                row = y
        return row

    def _lead(self) -> Lead:
        self.render()  # the lead as last drawn (built with the content)
        return self.lead

    def _offset_at(self, x: int, y: int) -> tuple[int, int] | None:
        """(column, line) in the content under cell (x, y): read from the `offset` Textual puts
        in each rendered segment's style (as its text selection does), but a click on the right
        half of a wide character picks that character, not the next one."""
        if y < 0 or y >= self.content_size.height:
            return None
        cell, last = 0, None
        for segment in self.render_line(y):
            meta = segment.style.meta if segment.style is not None and segment.style._meta else {}
            width = segment.cell_length
            if (offset := meta.get("offset")) is not None and offset[1] is not None:
                ox, oy = offset
                if cell <= x < cell + width:
                    for k, char in enumerate(segment.text):
                        cell += get_character_cell_size(char)
                        if x < cell:
                            return ox + k, oy
                last = (ox + len(segment.text), oy)
            cell += width
        return last  # right of the row's text: the character after it (a line's newline)


def _line(text: str, i: int) -> tuple[int, int]:
    """(first index, last index) of the line holding character i; a line ends with its newline."""
    end = text.find("\n", i)
    return text.rfind("\n", 0, i) + 1, len(text) - 1 if end < 0 else end


def _neighbour(replies: Sequence[str], turn: int, step: int) -> int | None:
    turn += step
    while 0 <= turn < len(replies):
        if replies[turn]:
            return turn
        turn += step
    return None


def move(replies: Sequence[str], at: tuple[int, int], key: str) -> tuple[int, int]:
    """Where the cursor goes from (reply, character) for an arrow, Home/End or PageUp/PageDown
    key: characters and lines flow on into the previous or next non-empty reply."""
    turn, i = at
    text = replies[turn]
    start, end = _line(text, i)
    if key in ("left", "right", "pageup", "pagedown"):
        step = -1 if key in ("left", "pageup") else 1
        if key == "left" and i > 0:
            return turn, i - 1
        if key == "right" and i < len(text) - 1:
            return turn, i + 1
        other = _neighbour(replies, turn, step)
        if other is None:
            return at
        return other, (len(replies[other]) - 1 if key == "left" else 0)
    if key in ("home", "end"):
        return turn, 0 if key == "home" else len(text) - 1
    if key == "up":
        if start > 0:
            prev_start, prev_end = _line(text, start - 1)
            return turn, min(prev_start + i - start, prev_end)
        other = _neighbour(replies, turn, -1)
        if other is None:
            return at
        prev_start, prev_end = _line(replies[other], len(replies[other]) - 1)
        return other, min(prev_start + i - start, prev_end)
    if key == "down":
        if end < len(text) - 1:
            next_start, next_end = _line(text, end + 1)
            return turn, min(next_start + i - start, next_end)
        other = _neighbour(replies, turn, 1)
        if other is None:
            return at
        return other, min(i - start, _line(replies[other], 0)[1])
    return at


class HeatLegend(Static):
    """The heat-map's scale for the sidebar: a 5-cell swatch per bucket, the bucket edges (in
    percent) written under the joins."""

    COMPONENT_CLASSES = set(HEAT_CLASSES)
    note = ""  # why there is nothing to colour ("no probabilities from this server"), shown instead

    def render(self) -> Content:
        if self.note:
            return Content(self.note)
        # per band: its characters, and how many of them carry the style (not the sample's gap)
        sample, styled = (MARKS_SAMPLE, 2) if heat_encoding(self) == "marks" else (" " * 5, 5)
        swatches = sample * len(HEAT_CLASSES)
        edges = "".join(f"{edge:<5}" for edge in ["0"] + [f"{e * 100:g}" for e in HEAT_EDGES])
        n = len(sample)
        spans = [Span(n * i, n * i + styled, style) for i, style in enumerate(heat_styles(self))]
        return Content(f"{swatches}\n{edges[:-1]}%", spans=spans)
