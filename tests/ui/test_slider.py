"""The float Slider: grid arithmetic, keyboard, click and drag, and its Changed messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.app import App, ComposeResult

from babygpt_tui.ui.widgets.slider import Slider, decimals_of, snap
from tests.plugins.pilot import APP_CSS


@pytest.mark.parametrize("step,decimals", [(0.05, 2), (0.01, 2), (1, 0), (0.1, 1), (0.25, 2), (64, 0)])
def test_decimals_of_step(step: float, decimals: int) -> None:
    assert decimals_of(step) == decimals


def test_snap_clamps_and_rounds_to_the_grid() -> None:
    assert snap(-1.0, 0.0, 2.0, 0.05) == 0.0
    assert snap(9.0, 0.0, 2.0, 0.05) == 2.0
    assert snap(0.83, 0.0, 2.0, 0.05) == 0.85
    assert snap(0.81, 0.0, 2.0, 0.05) == 0.8
    assert snap(0.333, 0.05, 1.0, 0.01) == 0.33


@given(
    start=st.integers(0, 40),
    moves=st.lists(st.sampled_from([1, -1, 10, -10]), max_size=200),
)
def test_many_steps_never_drift_off_the_grid(start: int, moves: list[int]) -> None:
    """Stepping is done on the grid index, so values stay exact decimals (no 0.30000000000000004)."""
    lo, hi, step = 0.0, 2.0, 0.05
    value = snap(start * step, lo, hi, step)
    for move in moves:
        index = round((value - lo) / step) + move
        value = snap(lo + index * step, lo, hi, step)
        assert lo <= value <= hi
        assert value == round(value, 2)
        assert abs(value / step - round(value / step)) < 1e-9


@given(st.floats(-10, 10, allow_nan=False))
def test_snap_is_idempotent_and_in_range(x: float) -> None:
    once = snap(x, 0.05, 1.0, 0.01)
    assert 0.05 <= once <= 1.0
    assert snap(once, 0.05, 1.0, 0.01) == once


class SliderApp(App[None]):
    CSS_PATH = APP_CSS

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs
        self.changes: list[float] = []

    def compose(self) -> ComposeResult:
        yield Slider(id="s", **self.kwargs)

    def on_slider_changed(self, event: Slider.Changed) -> None:
        assert event.control is event.slider
        self.changes.append(event.value)


def make(value: float = 0.8, **kwargs) -> SliderApp:
    options = dict(minimum=0.0, maximum=2.0, step=0.05, label="temp", label_width=7)
    options.update(kwargs)
    return SliderApp(value=value, **options)


async def test_initial_value_is_snapped_and_posts_nothing() -> None:
    app = make(0.83)
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        assert app.query_one(Slider).value == 0.85
        assert app.changes == []


async def test_keyboard_steps_pages_and_ends() -> None:
    app = make(0.8)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        slider.focus()
        await pilot.press("right")
        assert slider.value == 0.85
        await pilot.press("up", "up")
        assert slider.value == 0.95
        await pilot.press("left", "down")
        assert slider.value == 0.85
        await pilot.press("pageup")
        assert slider.value == 1.35
        await pilot.press("pagedown", "pagedown")
        assert slider.value == 0.35
        await pilot.press("end")
        assert slider.value == 2.0
        await pilot.press("right")  # clamped at the top
        assert slider.value == 2.0
        await pilot.press("home", "left")
        assert slider.value == 0.0
        await pilot.pause()
        assert app.changes == [0.85, 0.9, 0.95, 0.9, 0.85, 1.35, 0.85, 0.35, 2.0, 0.0]


async def test_many_key_presses_keep_exact_decimals() -> None:
    app = make(0.0, minimum=0.05, maximum=1.0, step=0.01)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        slider.focus()
        for _ in range(37):
            await pilot.press("right")
        assert slider.value == 0.42
        assert repr(slider.value) == "0.42"


async def test_custom_page_steps() -> None:
    app = make(200, minimum=1, maximum=2048, step=1, page_steps=64)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        slider.focus()
        await pilot.press("pageup")
        assert slider.value == 264
        await pilot.press("end")
        assert slider.value == 2048


def track(slider: Slider) -> tuple[int, int]:
    return slider._track()


async def test_click_jumps_to_the_position() -> None:
    app = make(0.8)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        start, width = track(slider)
        await pilot.click(Slider, offset=(start, 0))
        assert slider.value == 0.0
        assert slider.has_focus
        await pilot.click(Slider, offset=(start + width - 1, 0))
        assert slider.value == 2.0
        await pilot.click(Slider, offset=(start + (width - 1) // 2, 0))
        assert 0.9 <= slider.value <= 1.1


async def test_click_on_the_label_only_focuses() -> None:
    app = make(0.8)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        await pilot.click(Slider, offset=(1, 0))
        assert slider.has_focus
        assert slider.value == 0.8


async def test_drag_follows_the_mouse_and_clamps_outside_the_track() -> None:
    app = make(0.8)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        start, width = track(slider)
        await pilot.mouse_down(Slider, offset=(start + 2, 0))
        first = slider.value
        await pilot.hover(Slider, offset=(start + width // 2, 0))
        middle = slider.value
        await pilot.hover(Slider, offset=(start + width + 3, 0))  # past the end: clamped
        assert slider.value == 2.0
        await pilot.mouse_up(Slider, offset=(start + width + 3, 0))
        assert first < middle < 2.0
        await pilot.hover(Slider, offset=(start, 0))  # released: moving no longer changes it
        assert slider.value == 2.0


async def test_render_shows_label_track_and_formatted_value() -> None:
    app = make(0.0, format=lambda v: "greedy" if v == 0 else f"{v:.2f}")
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        text = slider.render().plain
        assert text.startswith("temp    ●")
        assert text.endswith("greedy")
        assert len(text) == slider.content_size.width
        slider.value = 2.0
        await pilot.pause()
        assert slider.render().plain.endswith("━●   2.00")  # the value column keeps its width


async def test_set_range_reclamps_the_value() -> None:
    app = make(80, minimum=0, maximum=100, step=1)
    async with app.run_test(size=(40, 3)) as pilot:
        slider = app.query_one(Slider)
        slider.set_range(0, 50)
        await pilot.pause()
        assert slider.value == 50
        slider.set_range(0, 5000)
        assert slider.value == 50


def test_bad_range_is_rejected() -> None:
    with pytest.raises(ValueError):
        Slider(0.5, minimum=1.0, maximum=0.0)
    with pytest.raises(ValueError):
        Slider(0.5, step=0)
