"""The speed gauge: decode tokens/s as a big number with a sparkline of recent rates, the
prefill time, and how full the context window (KV cache) is, with a mark after a shift."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Digits, Sparkline, Static

from ...api import GenStats, TokenBatch

HISTORY = 60  # sparkline points kept (about 15 s at 4 per second)
DRAW_EVERY = 0.2  # seconds between redraws while a reply streams


def context_bar(used: int, total: int, width: int = 10) -> str:
    filled = round(width * used / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)


def rate_text(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"


def speed_line(rate: float, live: bool) -> str:
    """The one-line form (under the prompt, seen when the sidebar is not): `▶ 612 tok/s` while a
    reply streams, `612 tok/s` after it, "" before the first reply."""
    if not rate:
        return "▶ … tok/s" if live else ""
    return f"▶ {rate_text(rate)} tok/s" if live else f"{rate_text(rate)} tok/s"


class Gauge(Vertical):
    """Live numbers while a reply streams; the final ones (from the engine's stats) after.
    Each change of the speed posts `Gauge.Speed` with the one-line form, for the app to show
    where it is seen with the sidebar hidden or folded away."""

    @dataclass
    class Speed(Message):
        text: str  # "" when there is nothing to show (no reply yet, a fresh session)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.block_size = 0
        self.cache_len = 0
        self.shifts = 0  # cache shifts of the last reply (exact, from the engine's stats)
        self.shifted = False  # a shift happened in the reply streaming now
        self.prefill = ""
        self.rate = 0.0
        self._drawn = 0.0
        self._live = False  # a reply is streaming: its numbers are drawn
        self._first = False  # its first batch has not come yet
        self.rates: deque[float] = deque(maxlen=HISTORY)
        self._speed = ""  # the last `Speed` posted
        self._trailing: Timer | None = None  # a redraw due for a batch that came too soon to draw

    def compose(self) -> ComposeResult:
        with Horizontal(id="gauge-rate"):
            yield Digits("0", id="gauge-digits")
            yield Sparkline([], id="gauge-sparkline")
        yield Static("", id="gauge-info", markup=False)

    def on_mount(self) -> None:
        self.border_title = "decode tok/s"
        self._show_info()

    def set_block_size(self, block_size: int) -> None:
        self.block_size = block_size
        self._show_info()

    def _show_rate(self, rate: float, live: bool = False) -> None:
        self.query_one(Digits).update(rate_text(rate))
        self._post_speed(speed_line(rate, live))

    def _post_speed(self, text: str) -> None:
        if text != self._speed:
            self._speed = text
            self.post_message(self.Speed(text))

    def _show_info(self) -> None:
        shift = f" ↻{self.shifts}" if self.shifts else " ↻" if self.shifted else ""
        context = f"ctx {context_bar(self.cache_len, self.block_size)} {self.cache_len}/{self.block_size}{shift}"
        if not self.block_size:  # a server that does not tell its context length
            context = "ctx –"
        prefill = f"prefill {self.prefill}" if self.prefill else "prefill –"
        self.query_one("#gauge-info", Static).update(f"{prefill}\n{context}", layout=False)

    def start(self) -> None:
        """A new reply: the live numbers start from zero (the sparkline keeps its history).

        They are drawn just after the reply's first token (or `DRAW_EVERY` on, if it is slow to
        come), not now: turning live restyles and redraws the whole gauge (~5–8 ms here), which
        would otherwise go into the frame that shows the new turn, on the way to the first token."""
        self.shifts, self.shifted, self.cache_len, self.prefill, self.rate = 0, False, 0, "…", 0.0
        self._live, self._first, self._drawn = True, True, time.monotonic()
        self._stop_trailing()
        self._trailing = self.set_timer(DRAW_EVERY, self._draw_live)

    def reset(self) -> None:
        """Another session (Ctrl+N, or one opened): no numbers of the old one's replies are kept."""
        self.shifts, self.shifted, self.cache_len, self.prefill, self.rate, self._drawn = 0, False, 0, "", 0.0, 0.0
        self._live = False
        self._stop_trailing()
        self.rates.clear()
        self.query_one(Sparkline).data = []
        self.query_one(Digits).update("0")
        self._post_speed("")
        self.set_class(False, "-live")
        self._show_info()

    def update_live(self, message: TokenBatch) -> None:
        """Record a batch; redraw at most every DRAW_EVERY seconds (≥ 4 times a second)."""
        if message.sample is not None:
            self.rates.append(message.sample)
        self.rate = message.rate or self.rate
        self.cache_len = message.cache_len
        self.shifted = self.shifted or message.shifted
        self.prefill = f"~{message.prefill_ms:.1f} ms"
        if self._first:  # drawn in the frame after the one that shows the first token
            self._first = False
            self._stop_trailing()
            self.call_after_refresh(self._draw_live)
        elif time.monotonic() - self._drawn >= DRAW_EVERY:
            self._draw_live()
        elif self._trailing is None:  # the last batch before a pause (a slow server) is drawn too
            self._trailing = self.set_timer(DRAW_EVERY, self._draw_live)

    def _stop_trailing(self) -> None:
        if self._trailing is not None:
            self._trailing.stop()
            self._trailing = None

    def _draw_live(self) -> None:
        self._stop_trailing()
        if not self._live or not self.is_attached:
            return  # the reply ended meanwhile (`finish` drew the final numbers), or the app closes
        self._drawn = time.monotonic()
        try:
            self._show_rate(self.rate, live=True)
            self.query_one(Sparkline).data = list(self.rates)
            self._show_info()
        except NoMatches:  # a closing app removes the gauge's children before the gauge itself
            return
        self.set_class(True, "-live")

    def finish(self, stats: GenStats | None) -> None:
        self._live = False
        self._stop_trailing()
        self.set_class(False, "-live")
        if stats is None:
            self._post_speed(speed_line(self.rate, live=False))
            return
        self._show_rate(stats.decode_tokens_per_s)
        if stats.decode_tokens_per_s:
            self.rates.append(stats.decode_tokens_per_s)
            self.query_one(Sparkline).data = list(self.rates)
        self.shifts = stats.shifts
        self.prefill = f"{stats.prefill_ms:.1f} ms · {stats.prompt_tokens} tok"
        self._show_info()
