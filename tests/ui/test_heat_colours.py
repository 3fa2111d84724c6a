"""The heat-map's six bands stay six in every colour system a terminal reports (truecolor, 256,
16), on dark and light themes, and as "marks" (Ctrl+G) without colour at all. Each band's colour
is checked as the terminal receives it: downgraded by rich the way Textual's output is."""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem

from babygpt_tui.ui.widgets.heat_palette import MARKS, band_styles
from babygpt_tui.ui.widgets.heatmap import HeatLegend, heat_styles
from tests.plugins.pilot import ready

SYSTEMS = {"truecolor": ColorSystem.TRUECOLOR, "256": ColorSystem.EIGHT_BIT, "standard": ColorSystem.STANDARD}


def as_sent(style, system: str) -> tuple:
    """(background, text colour) of a band as the terminal gets them: palette numbers or RGB."""

    def sent(color) -> object:
        if color is None:
            return None
        rich = RichColor.from_rgb(color.r, color.g, color.b).downgrade(SYSTEMS[system])
        return rich.number if rich.number is not None else rich.triplet

    return sent(style.background), sent(style.foreground)


def backgrounds(styles, system: str) -> list:
    return [as_sent(s, system)[0] for s in styles]


def contrast(a, b) -> float:
    def luminance(c) -> float:
        def channel(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("system", ["256", "standard"])
@pytest.mark.parametrize("dark", [True, False])
def test_palette_bands_are_six_different_entries_with_readable_text(system: str, dark: bool) -> None:
    styles = band_styles(system, dark, "colour", css=lambda i: pytest.fail("no CSS blends outside truecolor"))
    sent = backgrounds(styles, system)
    assert len(set(sent)) == 6 and None not in sent
    for style in styles:
        assert contrast(style.background, style.foreground) >= 3.0


def test_marks_are_six_different_text_styles_and_used_when_colour_is_off() -> None:
    assert len(set(MARKS)) == 6
    assert band_styles("truecolor", True, "marks", css=lambda i: pytest.fail("marks use no CSS")) == MARKS
    assert band_styles(None, True, "colour", css=lambda i: pytest.fail("no colour, no CSS")) == MARKS


@pytest.mark.parametrize(
    ("env", "system"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, "truecolor"),
        ({"COLORTERM": "", "TERM": "tmux-256color"}, "256"),  # the case the issue found: 3 bands left
        ({"COLORTERM": "", "TERM": "xterm"}, "standard"),
    ],
)
async def test_the_legend_shows_six_distinct_bands_in_the_terminal_s_colour_system(
    make_app, monkeypatch, env, system
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert app.console.color_system == system
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.press("ctrl+t")
            await pilot.pause()
            legend = app.query_one(HeatLegend)
            styles = [span.style for span in legend.render().spans]
            assert styles == list(heat_styles(legend))
            sent = backgrounds(styles, system)
            assert len(set(sent)) == 6, (theme, sent)
            await pilot.press("ctrl+t")


async def test_ctrl_g_switches_the_bands_to_marks_and_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+t", "ctrl+g")
        await pilot.pause()
        legend = app.query_one(HeatLegend)
        content = legend.render()
        assert content.plain.startswith("字字 字字")  # a blank swatch would show no underline
        assert [span.style for span in content.spans] == list(MARKS)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert [span.style for span in legend.render().spans] != list(MARKS)
        assert app.heat_encoding == "colour"
