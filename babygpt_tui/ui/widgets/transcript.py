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
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Static

from ...session import Turn
from ..messages import ForwardsTyping
from ..token_info import branch_note
from ..transcript_search import matching_turns, next_match
from .heatmap import ReplyChunk
from .inspect_mode import InspectMode
from .turn_select import TurnSelection

FREEZE_AFTER = 200  # characters of streamed tail before its complete lines are frozen
LAYOUT_EVERY = 0.1  # seconds between layout passes while a reply streams
SPARE_ROWS = 3  # empty rows the streaming tail grows into before it needs another layout pass
HINT = (
    "Type a prompt below and press Enter. An empty prompt starts a new poem.\n"
    "Ctrl+J inserts a new line · Esc stops · F1 lists every key.\n"
    "Ctrl+T colours replies by probability · click a character to inspect it."
)
BROWSE_KEYS = ("[", "]")  # the previous / next reply of a turn (app bindings)
PAGE = 50  # turns shown when a session opens; scrolling to the top shows 50 more (10,000 would take minutes)
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
    if turn.alternatives:  # Ctrl+R kept the earlier replies: `[` / `]` browse them
        parts.insert(0, f"◂ {turn.alternative + 1}/{len(turn.versions)} ▸")
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
        self.cursor: int | None = None  # the inspected reply character, if it is in this turn

    def compose(self) -> ComposeResult:
        # The prompt is drawn in front of the reply (`prompt_lead`); an empty one says what it does.
        empty = Static(Text("(empty prompt: a new poem from the start)"), classes="turn-prompt -empty")
        empty.display = not self.turn.prompt
        yield empty
        yield Static("", markup=False, classes="turn-note")
        yield ReplyChunk(self)
        yield Static(footer_text(self.turn), markup=False, classes="turn-footer")

    def on_mount(self) -> None:
        self._show_note()
        if self.turn.stop_reason is not None:  # a finished reply mounted (another alternative shown)
            self.finalize()
        else:
            self._size_for_prompt()

    def _size_for_prompt(self) -> None:
        """Give the streaming tail its rows before the first token, in the layout pass that shows
        the new turn: the first token is then only a repaint, not another layout of the screen
        (~15 ms here, on the way to the time to first token). The width is the transcript's, less
        the gutters; a guess too small only means the first token lays out as before."""
        tail, parent = self._tail(), self.parent
        if not isinstance(parent, Widget):
            return
        width = parent.content_size.width - self.styles.gutter.width - tail.styles.gutter.width
        if (rows := estimate_rows(self._with_prompt(tail, self.turn.reply), width)) > 0:
            self._rows = rows + SPARE_ROWS
            tail.styles.height = self._rows

    def _with_prompt(self, tail: ReplyChunk, text: str) -> str:
        """What the streaming tail draws of `text`: the prompt first when it is the first chunk."""
        return self.turn.prompt + text if tail.start == 0 else text

    def _show_note(self) -> None:
        """'↳ branched from …' under the prompt of a branch (known from its first token on)."""
        note = self.query_one(".turn-note", Static)
        text = branch_note(self.turn.branch)
        note.update(text)
        note.display = bool(text)

    def _tail(self) -> ReplyChunk:
        return self.query(ReplyChunk).last()

    @property
    def heatmap(self) -> bool:
        return bool(getattr(self.parent, "heatmap", False))

    def redraw(self, layout: bool = False) -> None:
        """Draw the reply again (heat-map toggled, cursor moved). `layout` when the wrapping may
        change: a coloured or inspected newline gets a cell of its own."""
        for chunk in self.query(ReplyChunk):
            chunk.refresh(layout=layout)

    def chunk_of(self, index: int) -> ReplyChunk | None:
        """The widget that draws reply character `index`."""
        for chunk in self.query(ReplyChunk):
            if chunk.start <= index and (chunk.end is None or index < chunk.end):
                return chunk
        return None

    def refresh_reply(self) -> None:
        tail = self._tail()
        text = self.turn.reply[self._frozen :]
        cut = text.rfind("\n") if len(text) > FREEZE_AFTER else -1
        if cut >= 0:
            self.mount(ReplyChunk(self, self._frozen, self._frozen + cut, "turn-reply -frozen"), before=tail)
            self._frozen += cut + 1
            text = text[cut + 1 :]
            self._rows = -1  # the tail shrank: size it again
            tail.start = self._frozen
        tail.refresh()
        if (width := tail.content_size.width) <= 0:
            return  # not laid out yet (a token before the turn's first frame): it keeps its rows
        rows = estimate_rows(self._with_prompt(tail, text), width)
        if rows > self._rows:  # out of room: grow the tail, with spare rows to grow into
            self._rows = rows + SPARE_ROWS
            self._resize_soon()

    def _resize_soon(self) -> None:
        wait = self._laid_out + LAYOUT_EVERY - time.monotonic()
        if wait <= 0:
            self._resize_now()
        elif self._pending is None:
            self._pending = self.set_timer(wait, self._resize_now)

    def _resize_now(self) -> None:
        if self._pending is not None:  # called directly while a timer was still due (it ran late):
            self._pending.stop()  # that timer must not fire after `finalize` and re-fix the height
            self._pending = None
        self._laid_out = time.monotonic()
        tail = self._tail()
        if self._rows > 0 and self.turn.stop_reason is None:
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
        tail.start = 0
        tail.refresh(layout=True)
        self._show_note()
        footer = self.query_one(".turn-footer", Static)
        footer.update(footer_text(self.turn))
        footer.set_class(self.turn.stop_reason == "stopped", "-stopped")
        footer.set_class(self.turn.stop_reason == "error", "-error")
        self.set_class(self.turn.stop_reason is not None, "-done")


class EarlierTurns(Static):
    """'▲ 9,950 earlier turns' above the oldest shown turn: click it, or scroll to the top."""

    def show(self, hidden: int) -> None:
        self.update(f"▲ {hidden:,} earlier turn{'s' if hidden != 1 else ''} — scroll up or click to show more")

    async def on_click(self) -> None:
        await self.parent.show_earlier()  # type: ignore[union-attr]


class Transcript(InspectMode, TurnSelection, ForwardsTyping, VerticalScroll):
    """All turns of the conversation, newest at the bottom.

    Inspect mode: a cursor on one reply character (click one, or ←/→ with the transcript
    focused, or F4); arrows move it, Enter goes to its alternatives, Esc leaves. Every move posts
    `Inspected`, which the app hands to the inspector panel.
    """

    heatmap: reactive[bool] = reactive(False)  # colour replies by probability (bound to the app's)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = True
        self.cursor: tuple[Turn, int] | None = None  # inspect mode: (turn, reply character)
        self.selected: Turn | None = None  # ↑/↓ or a search selected this turn
        self.hidden: list[Turn] = []  # the oldest turns of an opened session, not mounted yet
        self._shown: dict[int, TurnView] = {}  # id(turn) -> its view

    def compose(self) -> ComposeResult:
        yield Static(HINT, id="transcript-hint", markup=False)

    def on_mount(self) -> None:
        self.anchor()

    def on_key(self, event: events.Key) -> None:
        if event.character in BROWSE_KEYS:
            return  # the app's `[` / `]`: another reply of the turn
        if not self.cursor_key(event) and not self.select_key(event):
            self.forward_typing(event)

    def watch_heatmap(self) -> None:
        for view in self.query(TurnView):
            view.redraw(layout=True)

    def _view(self, turn: Turn) -> TurnView | None:
        # A dict, not a DOM query: this runs for every streamed batch, and a query walks every
        # widget of every turn shown.
        return self._shown.get(id(turn))

    def add_turn(self, turn: Turn) -> AwaitMount:
        if self.cursor is not None:
            self.inspect(None)  # a new reply (typed, or a branch) ends inspect mode
        self.query("#transcript-hint").remove()
        self._shown[id(turn)] = view = TurnView(turn)
        mounted = self.mount(view)
        self.anchor()
        return mounted

    def remove_turn(self, turn: Turn) -> None:
        if self.cursor is not None and self.cursor[0] is turn:
            self.inspect(None)
        if self.selected is turn:
            self.selected = None
        if (view := self._shown.pop(id(turn), None)) is not None:
            view.remove()

    def all_turns(self) -> list[Turn]:
        """Every turn of the transcript, the older ones not mounted yet included, in order."""
        return self.hidden + [view.turn for view in self._views()]

    async def find(self, text: str, step: int) -> tuple[int | None, int]:
        """Select the next turn holding `text` (see transcript_search): (its place among the
        matches or None, how many turns match)."""
        turns = self.all_turns()
        matches = matching_turns(turns, text)
        k = next_match(matches, self.selected_index(turns), step)
        if k is None:
            return None, 0
        target = turns[matches[k]]
        while self._view(target) is None and self.hidden:  # an older turn: show its page first
            await self.show_earlier()
        self.select(target)
        return k, len(matches)

    def replace_turn(self, old: Turn, new: Turn) -> None:
        """Show `new` where `old` is (another reply of the same turn)."""
        if self.cursor is not None and self.cursor[0] is old:
            self.inspect(None)
        if (view := self._shown.pop(id(old), None)) is None:
            return
        self._shown[id(new)] = replacement = TurnView(new)
        if self.selected is old:
            self.selected = new
            replacement.add_class("-selected")
        self.mount(replacement, after=view)
        view.remove()

    def redraw_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.redraw(layout=True)

    def update_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.refresh_reply()

    def finish_turn(self, turn: Turn) -> None:
        if (view := self._view(turn)) is not None:
            view.finalize()

    async def show_turns(self, turns: list[Turn]) -> None:
        """Show these finished turns instead of the current ones (a session opened or a new one)."""
        if self.cursor is not None:
            self.inspect(None)
        self.selected = None
        await self.remove_children()
        self._shown.clear()
        if not turns:
            self.hidden = []
            await self.mount(Static(HINT, id="transcript-hint", markup=False))
            return
        self.hidden = turns[:-PAGE]
        await self.mount(EarlierTurns(id="earlier-turns", markup=False))
        await self._mount_views(turns[-PAGE:])
        self.scroll_end(animate=False)
        self.anchor()

    async def _mount_views(self, turns: list[Turn], before: Widget | None = None) -> None:
        views = [TurnView(turn) for turn in turns]
        self._shown.update((id(view.turn), view) for view in views)
        await self.mount_all(views, before=before)
        for view in views:
            view.finalize()
        marker = self.query_one(EarlierTurns)
        marker.display = bool(self.hidden)
        marker.show(len(self.hidden))

    async def show_earlier(self) -> None:
        """Mount the next `PAGE` older turns above the shown ones, keeping the view where it is."""
        if not self.hidden:
            return
        batch, self.hidden = self.hidden[-PAGE:], self.hidden[:-PAGE]
        first = self.query(TurnView).first()
        height = self.virtual_size.height
        await self._mount_views(batch, before=first)
        self.call_after_refresh(
            lambda: self.scroll_to(y=self.scroll_y + self.virtual_size.height - height, animate=False, immediate=True)
        )

    def release_anchor(self) -> None:
        # Any scroll the person starts (key, wheel, scrollbar, a selected turn) stops the following
        # at once, before its animation runs. Textual's own release is undone whenever a frame or a
        # layout pass lands on the bottom, which under load made Home mid-stream snap back.
        super().release_anchor()
        self.anchor(False)
        self.call_after_refresh(self._follow_if_at_bottom)  # PgDn at the bottom: still following

    def action_scroll_end(self) -> None:
        self.anchor()  # End: to the bottom at once, following the text again

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old and self.hidden:
            self.call_later(self.show_earlier)
        if not self.is_anchored and new >= self.max_scroll_y:
            self.call_after_refresh(self._follow_if_at_bottom)

    def _follow_if_at_bottom(self) -> None:
        """Scrolled back to the bottom (wheel, ↓, PgDn): follow the text again — once the scroll
        has come to rest, so an animation passing the bottom does not re-anchor."""
        if self.is_anchored or self.app.animator.is_being_animated(self, "scroll_y"):
            return
        if self.scroll_y >= self.max_scroll_y - 1:
            self.anchor()
