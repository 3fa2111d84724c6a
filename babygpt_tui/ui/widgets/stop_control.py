"""The sidebar's stop strings: a "one poem per reply" toggle and the stop list from config/CLI.

A reply ends before the first stop string it would contain; the string itself is not shown
(the engine holds back a tail that could still become one). "One poem per reply" is the
corpus's poem boundary, the blank line (`POEM_END`), on by default for the bundled Song-ci model.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Static

from ...api import POEM_BOUNDARY
from ...escape import escape_controls
from .toggles import StateCheckbox

POEM_END = POEM_BOUNDARY


def describe_stops(stops: tuple[str, ...]) -> str:
    """`stop at: "\\n\\n" "END"`, control characters escaped so each string is visible."""
    if not stops:
        return ""
    return "stop at: " + " ".join('"' + _visible(s) + '"' for s in stops)


def _visible(stop: str) -> str:
    return escape_controls(stop.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t"))


class StopControl(Vertical):
    """`stops` is what a reply is sent with: the poem end when the toggle is on, then the list."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.extra: tuple[str, ...] = ()  # --stop / [sampling] stop, besides the poem end

    def compose(self) -> ComposeResult:
        yield StateCheckbox("one poem per reply", compact=True, id="stop-poem")  # ☑/☐: readable without colour
        yield Static("", id="stop-list", markup=False)

    def on_mount(self) -> None:
        self._show()

    def configure(self, stops: tuple[str, ...], one_poem: bool) -> None:
        """Start-up: the configured stop strings (the poem end among them switches the toggle on)."""
        self.extra = tuple(s for s in dict.fromkeys(stops) if s and s != POEM_END)
        self.query_one("#stop-poem", Checkbox).value = one_poem or POEM_END in stops
        self._show()

    @property
    def one_poem(self) -> bool:
        return self.query_one("#stop-poem", Checkbox).value

    def toggle(self) -> bool:
        box = self.query_one("#stop-poem", Checkbox)
        box.value = not box.value
        return box.value

    @property
    def stops(self) -> tuple[str, ...]:
        return ((POEM_END,) if self.one_poem else ()) + self.extra

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "stop-poem":
            self._show()

    def _show(self) -> None:
        label = self.query_one("#stop-list", Static)
        label.update(describe_stops(self.extra))
        label.display = bool(self.extra)
