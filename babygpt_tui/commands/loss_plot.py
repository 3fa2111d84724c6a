"""The loss curve of a run: read from metrics.jsonl, drawn in the terminal (plotext) and as an SVG
(pygal). Torch-free, so `babygpt-tui train --plot` starts at once."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_atomic
from ..errors import UserError

TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"  # blue and red, in the terminal and the SVG alike
TERMINAL_COLORS = ("blue+", "red+")  # plotext's names for the two series
INLINE_SCRIPT = re.compile(rb"<script[^>]*>.*?</script>", re.DOTALL)
MAX_RECORDS = 10_000_000  # far past any run; a bigger file is not metrics


class MetricsError(UserError):
    pass


@dataclass
class LossCurve:
    """(iteration, loss) points of the training loss and of the validation loss."""

    train: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    skipped: int = 0  # lines that were not metrics records

    def add(self, record: object) -> bool:
        """Take one metrics record; False if it is not one (the line is counted as skipped)."""
        if not isinstance(record, dict):
            return self._skip()
        step, train, val = record.get("iter"), record.get("train_loss"), record.get("val_loss")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            return self._skip()
        if not _finite(train) or not (val is None or _finite(val)):
            return self._skip()
        self.train.append((step, float(train)))  # type: ignore[arg-type]  # _finite checked the type
        if val is not None:
            self.val.append((step, float(val)))
        return True

    def _skip(self) -> bool:
        self.skipped += 1
        return False

    def last_per_step(self) -> LossCurve:
        """One point per iteration (the last logged), in order: a resumed run may log a step twice."""
        return LossCurve(sorted(dict(self.train).items()), sorted(dict(self.val).items()), self.skipped)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_metrics(path: Path) -> LossCurve:
    """The curve in a metrics.jsonl; lines that are not records are skipped and counted."""
    curve = LossCurve()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                if n >= MAX_RECORDS:
                    raise MetricsError(f"{path}: more than {MAX_RECORDS:,} lines; is this a metrics.jsonl?")
                if not line.strip():
                    continue
                try:
                    curve.add(json.loads(line))
                except ValueError:
                    curve._skip()
    except FileNotFoundError:
        raise MetricsError(f"{path}: not found; --plot takes the metrics.jsonl written next to a model") from None
    except IsADirectoryError:
        raise MetricsError(f"{path}: is a folder; give --plot FOLDER/metrics.jsonl") from None
    except OSError as e:
        raise MetricsError(f"{path}: cannot read ({e.strerror})") from None
    if not curve.train:
        raise MetricsError(f"{path}: no training-loss records in it; is this a metrics.jsonl?")
    return curve.last_per_step()


def terminal_chart(curve: LossCurve, width: int, height: int, color: bool = True) -> str:
    """The curve as text `width` x `height` cells (ANSI colours if `color`)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(width, 20), max(height, 5))
    plt.theme("clear")
    if curve.train:
        xs, ys = zip(*curve.train, strict=True)
        plt.plot(list(xs), list(ys), label="train", color=TERMINAL_COLORS[0] if color else None)
    if curve.val:
        xs, ys = zip(*curve.val, strict=True)
        plt.plot(list(xs), list(ys), label="val", marker="dot", color=TERMINAL_COLORS[1] if color else None)
    plt.xlabel("iteration")
    plt.ylabel("loss (nats/char)")
    text: str = plt.build()
    return text if color else plt.uncolorize(text)


def svg_chart(curve: LossCurve, title: str) -> bytes:
    """The curve as a self-contained SVG (no scripts, no external fonts or files)."""
    import pygal
    from pygal.style import Style

    style = Style(
        background="white",
        plot_background="white",
        foreground="#333",
        foreground_strong="#111",
        foreground_subtle="#ccc",
        colors=(TRAIN_COLOR, VAL_COLOR),
        guide_stroke_color="#e5e5e5",
        guide_stroke_dasharray="0",
        major_guide_stroke_color="#e5e5e5",
        major_guide_stroke_dasharray="0",
        stroke_width=2,
        stroke_opacity=1,
        font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
    )
    chart = pygal.XY(
        style=style,
        width=800,
        height=400,
        js=[],  # pygal's default loads a tooltip script from the web
        title=title,
        x_title="iteration",
        y_title="loss (nats/char)",
        show_dots=False,
        legend_at_bottom=True,
        show_x_guides=False,
        truncate_legend=-1,
    )
    chart.add("train", curve.train)
    chart.add("validation", curve.val, show_dots=True, dots_size=3)
    # pygal inlines its tooltip configuration as a <script> even with js=[]: a loss curve is a
    # picture, and a script in an SVG is what README renderers and viewers refuse.
    svg: bytes = chart.render()
    return INLINE_SCRIPT.sub(b"", svg)


def write_svg(curve: LossCurve, path: Path, title: str) -> Path:
    try:
        write_atomic(path, svg_chart(curve, title))
    except OSError as e:
        raise MetricsError(f"{path}: cannot write the loss curve ({e.strerror})") from None
    return path
