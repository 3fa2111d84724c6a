"""The heat-map's six band styles, chosen for the terminal's colour system — or, as "marks",
without colour at all.

In a truecolor terminal the bands are app.tcss's translucent theme colours (`heat--0` …
`heat--5`), blended on the widget's background. A 256- or 16-colour terminal cannot show those
blends: the terminal library maps each one to its nearest palette entry, and six gentle tints
fell onto three entries (tmux-256color without COLORTERM: 95, 59, 59, 237, 23, 59). There the
bands are palette entries picked to stay six different ones — exact xterm cube colours for 256,
the 16 ANSI colours (each hue plain and bright) for 16 — with a text colour that reads on each.

"marks" (Ctrl+G) encodes the bands in text styles (reverse, underline, bold, dim) instead: for a
monochrome terminal, NO_COLOR, or a reader who cannot tell red from green.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.color import Color
from textual.style import Style

from ..ui_state import HeatEncoding

HEAT_ENCODING_NAMES: dict[HeatEncoding, str] = {
    "colour": "colours",
    "marks": "marks (reverse, underline, bold, dim: no colour needed)",
}

_CUBE = (0, 95, 135, 175, 215, 255)  # the xterm 6×6×6 cube's levels (what index 16+36r+6g+b shows)


def xterm(index: int) -> Color:
    """The RGB of an xterm-256 cube entry (16…231): downgraded to 256 colours it is that index again."""
    r, g, b = ((index - 16) // 36, (index - 16) // 6 % 6, (index - 16) % 6)
    return Color(_CUBE[r], _CUBE[g], _CUBE[b])


WHITE, BLACK = Color(255, 255, 255), Color(0, 0, 0)
# (background, text) per band, least likely first. Reds for the unlikely, greens for the likely.
PALETTE_256_DARK = tuple((xterm(i), WHITE if i != 136 else BLACK) for i in (160, 88, 136, 58, 22, 28))
PALETTE_256_LIGHT = tuple((xterm(i), BLACK) for i in (203, 217, 221, 229, 193, 120))
# The 16 ANSI colours as the terminal library matches them (rich's STANDARD_PALETTE): bright red,
# red, bright yellow, yellow, green, bright green.
PALETTE_16 = (
    (Color(255, 85, 85), BLACK),
    (Color(170, 0, 0), WHITE),
    (Color(255, 255, 85), BLACK),
    (Color(170, 85, 0), WHITE),
    (Color(0, 170, 0), BLACK),
    (Color(85, 255, 85), BLACK),
)
# Loudest for the least likely: reverse, bold underline, underline, bold, plain, dim.
MARKS = (
    Style(reverse=True, bold=True),
    Style(bold=True, underline=True),
    Style(underline=True),
    Style(bold=True),
    Style(),
    Style(dim=True),
)


def band_styles(
    color_system: str | None, dark: bool, encoding: HeatEncoding, css: Callable[[int], Style]
) -> tuple[Style, ...]:
    """The six band styles. `color_system`: the console's ("truecolor", "256", "standard",
    "windows", or None when colour is off); `css(i)`: band i's style from app.tcss."""
    if encoding == "marks" or color_system is None:
        return MARKS
    if color_system == "truecolor":
        return tuple(css(i) for i in range(len(MARKS)))
    palette = (PALETTE_256_DARK if dark else PALETTE_256_LIGHT) if color_system == "256" else PALETTE_16
    return tuple(Style(background=bg, foreground=fg) for bg, fg in palette)
