"""The attention view (F8): for the step in view, the characters the model saw, coloured by the
attention weight the last one gave each (one layer, one head or all heads averaged), and a grid
of layers × heads whose cells name the character each head looked at most.

Shift+←/→ cycle the layer, Shift+↑/↓ the head ("all heads" is the average of one layer's heads,
before head 1). Colours are component classes (`attention--0` … `attention--5`, by the weight;
`attention--chosen`, the grid's selected cell) styled in app.tcss,
resolved on the widget's own background like the heat-map's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content, Span
from textual.style import Style
from textual.widgets import Static

from ...explanation import Explanation, top_positions
from ..explaining import Shown
from ..token_info import shown as visible

# Absolute weights, so a head that spreads itself evenly looks pale and one that stares at one
# character lights it up (relative to the heaviest, an even spread would look like a stare):
WEIGHT_EDGES = (0.02, 0.04, 0.08, 0.15, 0.3)  # bucket i holds weights in [EDGES[i-1], EDGES[i])
WEIGHT_CLASSES = tuple(f"attention--{i}" for i in range(len(WEIGHT_EDGES) + 1))
CHOSEN_CLASS = "attention--chosen"
ALL_HEADS = -1
KEYS_HINT = "Shift+←→ layer · Shift+↑↓ head"
NO_TARGET = "Inspect a character (F4, or click one) to see where the model looked."


def weights_of(e: Explanation, layer: int, head: int) -> tuple[float, ...]:
    """One head's weights over the window, or the layer's average (head ALL_HEADS)."""
    assert e.attention is not None
    return e.averaged(layer) if head == ALL_HEADS else e.attention[layer][head]


def weight_bucket(weight: float) -> int:
    return bisect_right(WEIGHT_EDGES, weight)


def heaviest_char(window: str, weights: Sequence[float]) -> str:
    """The character a head gave most weight (the earliest of equals)."""
    return window[max(range(len(weights)), key=lambda j: (weights[j], -j))]


def head_name(head: int, n_head: int) -> str:
    return "all heads" if head == ALL_HEADS else f"head {head + 1}/{n_head}"


def cell(char: str) -> str:
    """A character in two cells (wide ones fill both), newlines and spaces made visible."""
    text = visible(char)
    return text if Content(text).cell_length >= 2 else text + " "


def coloured_window(window: str, weights: Sequence[float], styles: Sequence[Style]) -> Content:
    """The window's characters, each on the background of its weight's bucket."""
    pieces: list[str] = []
    spans: list[Span] = []
    at = 0
    for char, w in zip(window, weights, strict=True):
        text = {"\n": "↵", " ": "\u00a0"}.get(char, char)  # a space must not vanish at a wrap
        pieces.append(text)
        bucket = weight_bucket(w)
        if bucket:
            spans.append(Span(at, at + len(text), styles[bucket]))
        at += len(text)
    return Content("".join(pieces), spans=spans)


def grid(e: Explanation, window: str, layer: int, head: int, chosen: Style) -> Content:
    """Layers × heads: each cell the character that head looked at most; the selection marked."""
    columns = ["all"] + [str(h + 1) for h in range(e.n_head)]
    lines = [Content("heads " + " ".join(f"{c:>3}" for c in columns))]
    for i in range(e.n_layer):
        parts: list[tuple[str, Style] | str] = [f"L{i + 1:<4}"]
        for h in [ALL_HEADS, *range(e.n_head)]:
            text = " " + cell(heaviest_char(window, weights_of(e, i, h)))
            parts += [" ", (text, chosen) if (i, h) == (layer, head) else text]
        lines.append(Content.assemble(*parts))
    return Content("\n").join(lines)


class AttentionView(VerticalScroll):
    """Where the model looked for the step in view (see the module docstring). It scrolls: a
    long window at a small terminal size is not cut off."""

    COMPONENT_CLASSES = set(WEIGHT_CLASSES) | {CHOSEN_CLASS}

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=False)
        self.state = Shown()
        self.layer_index = 0
        self.head_index = ALL_HEADS

    def compose(self) -> ComposeResult:
        yield Static("", id="attention-body", markup=False)

    def on_mount(self) -> None:
        self.border_subtitle = KEYS_HINT
        self._retitle()

    def show(self, state: Shown) -> None:
        self.state = state
        e = state.explanation
        if e is not None and e.attention is not None:
            self.layer_index = min(self.layer_index, e.n_layer - 1)
            self.head_index = min(self.head_index, e.n_head - 1)
        self._retitle()

    def cycle_layer(self, step: int) -> None:
        e = self.state.explanation
        if e is not None and e.n_layer:
            self.layer_index = (self.layer_index + step) % e.n_layer
            self._retitle()

    def cycle_head(self, step: int) -> None:
        """Through "all heads", head 1, …, head n and round again."""
        e = self.state.explanation
        if e is not None and e.n_head:
            self.head_index = (self.head_index + 1 + step) % (e.n_head + 1) - 1
            self._retitle()

    def _retitle(self) -> None:
        e = self.state.explanation
        self.border_title = "attention"
        if e is not None and e.attention is not None:
            self.border_title = (
                f"attention · layer {self.layer_index + 1}/{e.n_layer} · {head_name(self.head_index, e.n_head)}"
            )
        if self.is_mounted:
            self.query_one("#attention-body", Static).update(self.drawn())

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:  # a new theme: the colours are resolved again
            self.query_one("#attention-body", Static).update(self.drawn())

    def drawn(self) -> Content:
        """What the view shows now: a note, or the window coloured and the grid."""
        state, e = self.state, self.state.explanation
        target = state.target
        where = (
            f"turn {target.number} · char {target.index + 1} '{visible(target.turn.reply[target.index])}'"
            if target
            else ""
        )
        if e is None:
            why = "looking…" if state.waiting else state.note or NO_TARGET
            return Content(f"{where}\n{why}" if target is not None else why)
        if e.attention is None:
            return Content(f"{where}\n{e.note}: no attention to show.")
        window = e.window or "·" * (e.position - e.start + 1)  # an answer without the characters seen
        weights = weights_of(e, self.layer_index, self.head_index)
        most = "  ".join(
            f"'{visible(window[p - e.start])}' {w * 100:.0f}%" for p, w in top_positions(weights, e.start, 3)
        )
        styles = [self.get_visual_style(name) for name in WEIGHT_CLASSES]
        return Content("\n").join(
            [
                Content(f"{where} saw {len(window)} chars · most: {most}"),
                coloured_window(window, weights, styles),
                grid(e, window, self.layer_index, self.head_index, self.get_visual_style(CHOSEN_CLASS)),
            ]
        )
