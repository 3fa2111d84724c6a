"""What `babygpt-tui train` shows while it runs.

On a terminal: a live train/val loss chart above a status line (iteration, progress bar, ETA,
losses, tokens/s, MFU, lr); each eval and its sample scroll by above the chart. With --quiet, or
when stderr is a file or pipe: plain lines for logs — one per eval (with its sample) and at most
one every 30 s between evals.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..engine.train import Progress
from .loss_plot import LossCurve, terminal_chart

PLAIN_EVERY_S = 30.0
COMPACT_BELOW = 90  # columns: a narrower status line leaves out the best loss and the lr
# Control characters a model trained on an odd corpus might sample (ESC would drive the terminal).
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """A sample on one line: line breaks as ' / ', other control characters as escapes."""
    text = CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
    return " / ".join(line for line in text.split("\n"))


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def eta(p: Progress) -> str:
    return clock(p.elapsed_s * (1 - p.fraction) / p.fraction) if p.fraction > 0 else "-:--:--"


def summary(p: Progress, compact: bool = False) -> str:
    """train 3.2154  val 3.3012 (best 3.2950)  12,345 tok/s  mfu 3.1%  lr 9.8e-04
    (`compact`, for narrow terminals: without best and lr)."""
    val = f"  val {p.val_loss:.4f}" if p.val_loss is not None else ""
    best = f" (best {p.best_val:.4f})" if p.best_val < float("inf") and not compact else ""
    mfu = f"  mfu {p.mfu * 100:.1f}%" if p.mfu is not None else ""
    lr = "" if compact else f"  lr {p.lr:.2e}"
    return f"train {p.train_loss:.4f}{val}{best}  {p.tokens_per_s:,.0f} tok/s{mfu}{lr}"


def step_label(p: Progress) -> str:
    return f"iter {p.iter:,}" + (f"/{p.max_iters:,}" if p.max_iters else "")


class PlainLines:
    """Reporter for logs: no cursor movement, no colour."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        if p.val_loss is None and time.monotonic() - self.last < PLAIN_EVERY_S:
            return
        self.last = time.monotonic()
        saved = "  saved" if p.saved else ""
        line = f"{step_label(p)}  {summary(p)}  {p.elapsed_s / 60:.1f} min  {p.fraction * 100:.1f}%{saved}"
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        if p.sample is not None:
            self.console.print(f"  sample: {visible(p.sample)}", highlight=False, markup=False, soft_wrap=True)


class LiveView:
    """The live chart and status lines; rebuilt at the terminal's current size on each refresh."""

    def __init__(self, console: Console, earlier: LossCurve | None = None) -> None:
        self.console = console
        self.curve = earlier or LossCurve()  # a resumed run's curve so far
        self.latest: Progress | None = None
        self._chart: tuple[tuple[int, int, int, int], Text] | None = None

    def chart_height(self) -> int:
        # Half the screen (8..24 rows): the evals and samples scrolling above stay readable.
        return max(8, min(24, self.console.size.height // 2))

    def report(self, p: Progress) -> None:
        self.latest = p
        self.curve.train.append((p.iter, p.train_loss))
        if p.val_loss is not None:
            self.curve.val.append((p.iter, p.val_loss))
            saved = "  [green]saved[/]" if p.saved else ""
            compact = self.console.width < COMPACT_BELOW
            self.console.print(f"[bold]{step_label(p)}[/]  {summary(p, compact)}{saved}", highlight=False)
            if p.sample is not None:
                self.console.print(Text(f"  {visible(p.sample)}", style="dim"))

    def _chart_text(self, width: int) -> Text:
        key = (width, self.chart_height(), len(self.curve.train), len(self.curve.val))
        if self._chart is None or self._chart[0] != key:
            self._chart = (key, Text.from_ansi(terminal_chart(self.curve, width, key[1]).rstrip("\n")))
        return self._chart[1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        p = self.latest
        if p is None:
            yield Text("waiting for the first steps…", style="dim")
            return
        width = options.max_width
        if len(self.curve.train) >= 2:
            yield self._chart_text(width)
        bar = Table.grid(padding=(0, 1), expand=True)
        bar.add_column(no_wrap=True)
        bar.add_column(ratio=1)
        bar.add_column(no_wrap=True)
        bar.add_row(
            Text(step_label(p), style="bold"),
            ProgressBar(total=1.0, completed=p.fraction),
            f"{p.fraction * 100:5.1f}%  {clock(p.elapsed_s)}  ETA {eta(p)}",
        )
        yield bar
        yield Text(summary(p, compact=width < COMPACT_BELOW), no_wrap=True, overflow="ellipsis")


@contextlib.contextmanager
def live_display(console: Console, earlier: LossCurve | None = None) -> Iterator[Callable[[Progress], None]]:
    view = LiveView(console, earlier)
    with Live(view, console=console, refresh_per_second=2, transient=False, redirect_stdout=False) as live:
        view.console = live.console
        yield view.report
