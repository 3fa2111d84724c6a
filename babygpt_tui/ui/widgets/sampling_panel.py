"""The sidebar's knobs: sampling sliders, seed (random / fixed) and context mode (fresh / continue).

Every slider move posts `SamplingPanel.ParamsChanged` with a new frozen `SamplingParams`; the app
swaps it into the `ParamsHolder` the running generation reads before every token (live knobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, RadioButton, RadioSet, Static

from ...api import ContextMode, SamplingParams
from .slider import Slider
from .stop_control import StopControl
from .toggles import StateCheckbox, StateRadio

LABEL_WIDTH = 7


def _number(decimals: int, off: float | None = None, off_text: str = "off") -> Callable[[float], str]:
    def fmt(value: float) -> str:
        return off_text if off is not None and value == off else f"{value:.{decimals}f}"

    return fmt


@dataclass(frozen=True)
class Knob:
    field: str
    label: str
    minimum: float
    maximum: float
    step: float
    format: Callable[[float], str]
    hint: str  # shown under the panel while the slider has focus
    page_steps: int = 10


KNOBS = (
    Knob("temperature", "temp", 0.0, 2.0, 0.05, _number(2, 0.0, "greedy"), "temperature · 0 = greedy"),
    Knob("top_k", "top-k", 0, 100, 1, _number(0, 0), "top-k · 0 = off"),
    Knob("top_p", "top-p", 0.05, 1.0, 0.01, _number(2, 1.0), "nucleus top-p · 1 = off"),
    Knob("min_p", "min-p", 0.0, 0.99, 0.01, _number(2, 0.0), "min-p × best · 0 = off"),
    Knob("repetition_penalty", "repeat", 1.0, 2.0, 0.05, _number(2, 1.0), "repetition penalty · 1 = off"),
    Knob("max_new_tokens", "length", 1, 2048, 1, _number(0), "max new chars · PgUp ±64", page_steps=64),
)


HINTS = {f"knob-{knob.field}": knob.hint for knob in KNOBS} | {
    "seed-fixed": "off: new random seed per reply",
    "seed-value": "the seed every reply uses",
    "context-mode": "continue: extend transcript",
    "stop-poem": "end at the blank line after a poem",
    "reset-knobs": "back to the defaults · F5",
    "save-defaults": "theme + knobs → config.toml",
}


class SamplingPanel(VerticalScroll, can_focus=False):
    """Not a focus stop itself: Tab goes from the prompt straight to the first slider."""

    @dataclass
    class ParamsChanged(Message):
        params: SamplingParams

    def __init__(self, params: SamplingParams | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.defaults = params or SamplingParams()
        self._params = self.defaults

    def compose(self) -> ComposeResult:
        for knob in KNOBS:
            value = getattr(self.defaults, knob.field)
            yield Slider(
                value,
                minimum=min(knob.minimum, value),  # a configured default is never clamped away
                maximum=max(knob.maximum, value),
                step=knob.step,
                label=knob.label,
                label_width=LABEL_WIDTH,
                format=knob.format,
                page_steps=knob.page_steps,
                id=f"knob-{knob.field}",
            )
        yield Static("", id="knobs-refused", markup=False)  # knobs a server does not take, and why
        with Horizontal(id="seed-row"):
            yield StateCheckbox("fixed seed", compact=True, id="seed-fixed")
            yield Input("0", restrict=r"[0-9]*", max_length=18, compact=True, disabled=True, id="seed-value")
        with RadioSet(id="context-mode", compact=True):
            yield StateRadio("fresh", value=True, compact=True, id="mode-fresh")
            yield StateRadio("continue", compact=True, id="mode-continue")
        yield StopControl(id="stops")
        with Horizontal(id="knob-buttons"):
            yield Button("Reset", compact=True, id="reset-knobs")
            yield Button("Save as defaults", compact=True, id="save-defaults", action="app.save_defaults")

    def on_mount(self) -> None:
        self.border_title = "Sampling"
        self.query_one("#knobs-refused").display = False

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.border_subtitle = HINTS.get(event.widget.id or "", "")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.border_subtitle = ""

    # -- sampling params

    @property
    def params(self) -> SamplingParams:
        return self._params

    def on_slider_changed(self, event: Slider.Changed) -> None:
        event.stop()
        field = (event.slider.id or "").removeprefix("knob-")
        value: float = int(round(event.value)) if field in ("top_k", "max_new_tokens") else event.value
        self._params = replace(self._params, **{field: value})  # type: ignore[arg-type]  # int where the field is
        self.post_message(self.ParamsChanged(self._params))

    def set_params(self, params: SamplingParams) -> None:
        with self.prevent(Slider.Changed):
            for knob in KNOBS:
                self.query_one(f"#knob-{knob.field}", Slider).value = getattr(params, knob.field)
        self._params = params
        self.post_message(self.ParamsChanged(params))

    def reset(self) -> None:
        self.set_params(self.defaults)
        self.notify("Sampling knobs reset to their defaults.")

    def set_vocab_size(self, vocab_size: int) -> None:
        """Top-k goes up to the vocabulary size of the loaded model."""
        self.query_one("#knob-top_k", Slider).set_range(0, max(vocab_size, 1))

    def set_unavailable(self, reasons: Mapping[str, str]) -> None:
        """Grey out the sliders of knobs the backend does not take (a server refused them, `reasons`
        by SamplingParams field: its message), and say why under them."""
        lines = []
        for knob in KNOBS:
            slider = self.query_one(f"#knob-{knob.field}", Slider)
            reason = reasons.get(knob.field)
            slider.disabled = reason is not None
            slider.tooltip = f"not taken by this server: {reason}" if reason else None
            if reason:
                lines.append(f"⊘ {knob.label} · {reason}")
        note = self.query_one("#knobs-refused", Static)
        note.update("\n".join(["not taken by this server:", *lines]) if lines else "")
        note.display = bool(lines)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reset-knobs":
            event.stop()
            self.reset()

    # -- seed and context mode

    @property
    def fixed_seed(self) -> int | None:
        """The seed to use, or None for a random one."""
        if not self.query_one("#seed-fixed", Checkbox).value:
            return None
        text = self.query_one("#seed-value", Input).value
        return int(text) % 2**63 if text else 0

    def show_seed(self, seed: int) -> None:
        """In random mode, show the seed just drawn (ticking 'fixed' then keeps it)."""
        if self.fixed_seed is None:
            self.query_one("#seed-value", Input).value = str(seed)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "seed-fixed":
            self.query_one("#seed-value", Input).disabled = not event.value

    @property
    def seed_mode(self) -> str:
        """ "fixed" or "random" (as a session stores it)."""
        return "fixed" if self.query_one("#seed-fixed", Checkbox).value else "random"

    @property
    def seed_value(self) -> int:
        """The number in the seed box: the fixed seed, or in random mode the last one drawn."""
        text = self.query_one("#seed-value", Input).value
        return int(text) % 2**63 if text else 0

    def set_seed(self, mode: str, seed: int) -> None:
        """Restore a seed setting (from config.toml or a session)."""
        self.query_one("#seed-fixed", Checkbox).value = mode == "fixed"
        seed_input = self.query_one("#seed-value", Input)
        seed_input.value, seed_input.disabled = str(seed), mode != "fixed"

    def set_context_mode(self, mode: ContextMode) -> None:
        self.query_one(f"#mode-{mode}", RadioButton).value = True

    @property
    def context_mode(self) -> ContextMode:
        return "continue" if self.query_one("#mode-continue", RadioButton).value else "fresh"

    def toggle_context_mode(self) -> None:
        target = "fresh" if self.context_mode == "continue" else "continue"
        self.query_one(f"#mode-{target}", RadioButton).value = True
        self.notify(f"Context mode: {target}")

    def toggle_seed_mode(self) -> None:
        box = self.query_one("#seed-fixed", Checkbox)
        box.value = not box.value
        self.notify("Seed: fixed" if box.value else "Seed: random for every reply")
