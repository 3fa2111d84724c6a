"""The sidebar: the speed gauge, the inspector and the sampling knobs, in one container that

- sends text typed on its buttons, checkboxes, radio buttons and the inspector's list to the
  prompt (sliders do it themselves; the seed box takes digits as its own), so typing is never
  lost because focus happened to be on a control;
- knows how it is shown (`-hidden` by Ctrl+B; on a narrow terminal `-overlay`, drawn over the
  transcript while it is open, see `SidebarLayout`), and tells the screen (`-sidebar-shown`):
  notifications then stay left of it. Textual's compositor cuts every line at each widget's edge
  and a wide character lying across a cut is drawn as two spaces, so a toast spanning the
  transcript/sidebar border lost a CJK character ('  江花月夜' for '春江花月夜'); over the
  transcript alone there is no edge inside the toast.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.containers import Vertical

from ..messages import TypedText

# Below this many columns the 34-column sidebar would leave the transcript too narrow to read a
# line of verse: it floats over the transcript instead, closed until Ctrl+B (or inspecting) opens it.
NARROW_WIDTH = 90
NOT_FORWARDED = " ?"  # space presses a button or ticks a box; ? opens the help


@dataclass(frozen=True)
class SidebarLayout:
    """How the sidebar is shown at a terminal width: beside the transcript, or over it."""

    overlay: bool

    @staticmethod
    def for_width(width: int) -> SidebarLayout:
        return SidebarLayout(overlay=width < NARROW_WIDTH)


class Sidebar(Vertical):
    """The container of the gauge, the inspector and the knobs (ids in app.tcss)."""

    _revealed = False  # shown by `reveal` (inspecting), not by the person

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and event.character not in NOT_FORWARDED:
            event.stop()
            self.post_message(TypedText(event.character))

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(TypedText(event.text))

    def on_mount(self) -> None:
        self._sync_screen()

    def _sync_screen(self) -> None:
        self.screen.set_class(self.shown, "-sidebar-shown")

    @property
    def shown(self) -> bool:
        """Whether the sidebar is on screen now (not hidden, and open if it is an overlay)."""
        return not self.has_class("-hidden") and (not self.has_class("-overlay") or self.has_class("-open"))

    def apply_layout(self, layout: SidebarLayout) -> None:
        """Beside the transcript or over it; entering overlay mode closes it, leaving keeps Ctrl+B's choice."""
        if layout.overlay == self.has_class("-overlay"):
            return
        self.set_class(layout.overlay, "-overlay")
        self.remove_class("-open")
        self._revealed = False
        self._sync_screen()

    def toggle(self) -> None:
        """Ctrl+B: show or hide (as an overlay: open or close)."""
        self._revealed = False
        if self.has_class("-overlay"):
            self.toggle_class("-open")
        else:
            self.toggle_class("-hidden")
        self._sync_screen()

    def reveal(self) -> None:
        """Make sure it is on screen (inspecting needs the inspector); `conceal` undoes it."""
        if self.shown:
            return
        self._revealed = True
        if self.has_class("-overlay"):
            self.add_class("-open")
        else:
            self.remove_class("-hidden")
        self._sync_screen()

    def conceal(self) -> None:
        """Inspecting ended: hidden or closed again if `reveal` had shown it."""
        if self._revealed:
            self._revealed = False
            self.toggle()

    def close_overlay(self) -> None:
        """Esc: an open overlay goes, so the prompt and the transcript are whole again."""
        self._revealed = False
        self.remove_class("-open")
        self._sync_screen()
