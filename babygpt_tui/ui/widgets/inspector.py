"""The sidebar's inspector: the heat-map legend (while the heat-map is on) and, in inspect mode,
the token under the transcript's cursor — its probability and rank, the settings in force at that
step, and the top alternatives with bars for the raw and the warped probability (alternatives the
warpers cut are marked). Picking an alternative (Enter or a click) posts `Inspector.Branch`.

While inspecting, the sidebar gets the class `-inspecting` (app.tcss hides the gauge then and
gives the knobs a smaller, scrolling share, so the panel fits an 80×24 terminal and the knobs stay
reachable) and is shown even if it was hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...api import SamplingParams
from ...session import Turn
from ..token_info import Choice, TokenStep, missing_note, shown, step_at, warped_note
from .heatmap import HeatLegend
from .sidebar import Sidebar

BAR_CELLS = 6
EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(p: float | None, cells: int = BAR_CELLS) -> str:
    """A horizontal bar of `cells` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, p or 0.0)) * cells * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(cells)


def percent(p: float | None) -> str:
    """Six cells: ' 45.1%', '  100%', ' <0.1%', or '    – ' when unknown."""
    if p is None:
        return "    – "
    if p >= 0.9995:
        return "  100%"
    if 0 < p < 0.0005:
        return " <0.1%"
    return f"{p * 100:5.1f}%"


def precise(p: float) -> str:
    """The inspected token's own probability, with more digits when it is small."""
    return f"{p * 100:.1f}%" if p >= 0.01 else f"{p * 100:.2g}%"


def settings_lines(params: SamplingParams | None) -> str:
    """The settings in force at a step, three short lines (the sidebar is 30 cells wide)."""
    if params is None:
        return "settings not recorded\n\n"

    def knob(name: str, value: float, off: float, text: str) -> str:
        return f"{name} {'off' if value == off else text}"

    temp = "greedy" if params.temperature < 1e-4 else f"{params.temperature:.2f}"
    return (
        f"temp {temp} · {knob('top-k', params.top_k, 0, str(params.top_k))}\n"
        f"{knob('top-p', params.top_p, 1.0, f'{params.top_p:.2f}')} · "
        f"{knob('min-p', params.min_p, 0.0, f'{params.min_p:.2f}')}\n"
        f"{knob('repeat', params.repetition_penalty, 1.0, f'{params.repetition_penalty:.2f}')}"
    )


def choice_row(choice: Choice) -> Content:
    """`▸风 ████▍ 45.1% ██▌   20.3%` with the styles of app.tcss (component classes)."""
    char = shown(choice.text)
    char = char + " " * max(0, 2 - Content(char).cell_length)
    mark = "▸" if choice.chosen else " "
    warped = "   cut  ✗   " if choice.cut else bar(choice.warped) + percent(choice.warped)
    return Content.assemble(
        (mark + char, ".inspector--chosen") if choice.chosen else mark + char,
        " ",
        (bar(choice.raw), ".inspector--raw"),
        percent(choice.raw),
        " ",
        (warped, ".inspector--cut" if choice.cut else ".inspector--warped"),
    )


class Inspector(Vertical):
    """The sidebar panel: legend and inspected token (see the module docstring)."""

    heatmap: reactive[bool] = reactive(False)  # bound to the app's: shows the legend

    COMPONENT_CLASSES = {"inspector--raw", "inspector--warped", "inspector--cut", "inspector--chosen"}

    @dataclass
    class Branch(Message):
        """Rewrite `turn`'s reply from character `index` on, starting with `choice`."""

        turn: Turn
        index: int
        choice: Choice

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.turn: Turn | None = None
        self.step: TokenStep | None = None
        self._return_to: Widget | None = None  # focused while inspecting, before the alternatives

    def compose(self) -> ComposeResult:
        yield HeatLegend(id="heat-legend")
        with Vertical(id="inspect-panel"):
            yield Static("", id="inspect-head", markup=False)
            yield OptionList(id="inspect-alts", compact=True)

    def on_mount(self) -> None:
        self.set_probabilities_note("")
        self.query_one("#inspect-panel").border_subtitle = "Enter/click: branch · Esc"
        self._update_display()

    def set_probabilities_note(self, note: str) -> None:
        """The legend shows the scale, or why there is nothing to colour (`note`)."""
        legend = self.query_one(HeatLegend)
        legend.note = note
        legend.border_title = "heat-map" if note else "heat-map · raw p %"
        legend.refresh()

    def watch_heatmap(self) -> None:
        if self.is_mounted:
            self._update_display()

    def _update_display(self) -> None:
        self.query_one("#heat-legend").display = self.heatmap
        self.query_one("#inspect-panel").display = self.turn is not None
        self.display = self.heatmap or self.turn is not None

    @property
    def alternatives(self) -> OptionList:
        return self.query_one("#inspect-alts", OptionList)

    def show(self, turn: Turn | None, index: int = 0, number: int = 0, pick: bool = False) -> None:
        """Inspect reply character `index` of `turn`, the `number`-th turn (None: stop)."""
        self.turn = turn
        self.step = step_at(turn, index) if turn is not None else None
        if isinstance(sidebar := self.parent, Sidebar):
            sidebar.set_class(turn is not None, "-inspecting")
            if turn is not None:
                sidebar.reveal()
            else:
                sidebar.conceal()
        self._update_display()
        if turn is None:
            if self.alternatives.has_focus and self._return_to is not None:
                self._return_to.focus()
            return
        if not self.alternatives.has_focus:
            self._return_to = self.screen.focused  # the transcript, normally: Esc and a branch go back there
        panel = self.query_one("#inspect-panel")
        panel.border_title = f"turn {number} · char {index + 1}/{len(turn.reply)}"
        self.query_one("#inspect-head", Static).update(self._head(turn.reply[index]))
        options = self.alternatives
        options.clear_options()
        if self.step is not None:
            options.add_options(Option(choice_row(c)) for c in self.step.choices)
            options.highlighted = next((i for i, c in enumerate(self.step.choices) if c.chosen), 0)
        options.display = self.step is not None
        if pick:
            self.pick()

    def _head(self, char: str) -> str:
        step = self.step
        if step is None:
            return f"'{shown(char)}' · {missing_note(self.turn)}"
        rank = f"rank {step.rank}" if step.rank else "not in the top 10"
        forced = " · forced" if step.forced else ""
        return (
            f"'{shown(step.text)}'  {rank}{forced}\n"
            f"p {precise(step.prob)} · warped {warped_note(self.turn) or precise(step.warped)}\n"
            f"{settings_lines(step.params)}\n"
            f"tok raw p{'':8}warped p"
        )

    def pick(self) -> None:
        """Move the focus to the alternatives (Enter in inspect mode)."""
        if self.step is None:
            self.notify("No alternatives were stored for this reply, so it cannot be branched.", severity="warning")
            return
        self.alternatives.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.turn is not None and self.step is not None:
            self.post_message(self.Branch(self.turn, self.step.index, self.step.choices[event.option_index]))

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.alternatives.has_focus:
            event.stop()
            event.prevent_default()
            if self._return_to is not None:
                self._return_to.focus()
