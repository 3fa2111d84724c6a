"""A one-line float slider: `label ━━━━●────── value`.

Textual has no slider (textual-slider is int-only), so this is a small one of our own. The value
always sits on the grid `minimum + i * step` (computed from the index, so repeated key presses
never drift), is clamped to [minimum, maximum], and every change posts `Slider.Changed`.

Keys (when focused): Left/Down one step down, Right/Up one step up, PageDown/PageUp ten steps,
Home/End to the ends. Mouse: click on the track jumps there, drag to slide. Text typed on a
focused slider is posted as `TypedText` (the app forwards it to the prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ..messages import ForwardsTyping


def decimals_of(step: float) -> int:
    """How many decimals the grid of `step` needs (0.05 -> 2, 1 -> 0)."""
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def snap(value: float, minimum: float, maximum: float, step: float) -> float:
    """Clamp `value` to the range and round it to the nearest grid point."""
    if value <= minimum:
        return minimum
    if value >= maximum:
        return maximum
    index = round((value - minimum) / step)
    return min(max(round(minimum + index * step, decimals_of(step)), minimum), maximum)


class Slider(ForwardsTyping, Widget, can_focus=True):
    """A float slider with a label on the left and its formatted value on the right."""

    BINDINGS = [
        Binding("right,up", "step(1)", "Increase", show=False),
        Binding("left,down", "step(-1)", "Decrease", show=False),
        Binding("pageup", "page(1)", "Increase a lot", show=False),
        Binding("pagedown", "page(-1)", "Decrease a lot", show=False),
        Binding("home", "to_end(False)", "Minimum", show=False),
        Binding("end", "to_end(True)", "Maximum", show=False),
    ]
    COMPONENT_CLASSES = {"slider--label", "slider--filled", "slider--knob", "slider--empty", "slider--value"}

    value: reactive[float] = reactive(0.0, init=False)

    @dataclass
    class Changed(Message):
        """The value changed (by key, mouse or code)."""

        slider: Slider
        value: float

        @property
        def control(self) -> Slider:
            return self.slider

    def __init__(
        self,
        value: float,
        *,
        minimum: float = 0.0,
        maximum: float = 1.0,
        step: float = 0.01,
        label: str = "",
        label_width: int | None = None,
        format: Callable[[float], str] | None = None,
        page_steps: int = 10,
        id: str | None = None,
        classes: str | None = None,
        tooltip: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, classes=classes, disabled=disabled)
        if step <= 0 or maximum < minimum:
            raise ValueError(f"bad slider range: {minimum}..{maximum} step {step}")
        self.minimum, self.maximum, self.step = minimum, maximum, step
        self.label = label
        self.label_width = len(label) if label_width is None else label_width
        self.page_steps = page_steps
        self._format = format or (lambda v: f"{v:.{decimals_of(self.step)}f}")
        self._dragging = False
        self.set_reactive(Slider.value, snap(value, minimum, maximum, step))
        if tooltip:
            self.tooltip = tooltip

    # -- value

    def validate_value(self, value: float) -> float:
        return snap(float(value), self.minimum, self.maximum, self.step)

    def watch_value(self, value: float) -> None:
        self.post_message(self.Changed(self, value))

    @property
    def index(self) -> int:
        """The value's position on the grid (0 = minimum)."""
        return round((self.value - self.minimum) / self.step)

    def set_range(self, minimum: float, maximum: float) -> None:
        """Change the range (e.g. top-k up to the vocabulary size); the value is re-clamped."""
        self.minimum, self.maximum = minimum, maximum
        self.value = self.value
        self.refresh()

    @property
    def formatted(self) -> str:
        return self._format(self.value)

    # -- keys

    def action_step(self, steps: int) -> None:
        self.value = self.minimum + (self.index + steps) * self.step

    def action_page(self, direction: int) -> None:
        self.action_step(direction * self.page_steps)

    def action_to_end(self, top: bool) -> None:
        self.value = self.maximum if top else self.minimum

    # -- geometry shared by render and mouse

    def _value_width(self) -> int:
        samples = (self.minimum, self.maximum, self.value)
        return max(len(self._format(v)) for v in samples)

    def _track(self) -> tuple[int, int]:
        """(first column, width) of the track inside the content area."""
        start = self.label_width + 1 if self.label_width else 0
        width = self.content_size.width - start - self._value_width() - 1
        return start, max(width, 3)

    def _fraction(self) -> float:
        span = self.maximum - self.minimum
        return (self.value - self.minimum) / span if span else 0.0

    def render(self) -> Text:
        start, width = self._track()
        knob = round(self._fraction() * (width - 1))
        style = self.get_component_rich_style
        text = Text(no_wrap=True, overflow="crop")
        if self.label_width:
            text.append(f"{self.label:<{self.label_width}.{self.label_width}} ", style("slider--label"))
        text.append("━" * knob, style("slider--filled"))
        text.append("●", style("slider--knob"))
        text.append("─" * (width - knob - 1), style("slider--empty"))
        text.append(f" {self.formatted:>{self._value_width()}}", style("slider--value"))
        return text

    def on_key(self, event: events.Key) -> None:
        self.forward_typing(event)

    # -- mouse

    def _value_at(self, x: int) -> float:
        start, width = self._track()
        fraction = min(max((x - start) / max(width - 1, 1), 0.0), 1.0)
        return self.minimum + fraction * (self.maximum - self.minimum)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        start, width = self._track()
        self.focus()
        if start <= offset.x < start + width:
            event.stop()
            self._dragging = True
            self.capture_mouse()
            self.value = self._value_at(offset.x)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            event.stop()
            self.value = self._value_at(event.get_content_offset_capture(self).x)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            event.stop()
            self._dragging = False
            self.release_mouse()

    def on_mouse_release(self, event: events.MouseRelease) -> None:
        self._dragging = False
