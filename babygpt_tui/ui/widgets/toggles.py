"""A checkbox and a radio button whose state reads without colour: `☑`/`☐` and `◉`/`○`.

Textual draws both states of a Checkbox as `▐X▌` and of a RadioButton as `▐●▌`, told apart by
colour alone — in a 16- or 256-colour terminal, or for a colour-blind person, "on" and "off"
look the same. Here the glyph itself changes; the colour (app.tcss) only adds to it.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton

CHECKBOX_GLYPHS = ("☐", "☑")  # off, on
RADIO_GLYPHS = ("○", "◉")


class StateCheckbox(Checkbox):
    """A Checkbox showing ☑ when ticked and ☐ when not."""

    @property
    def _button(self) -> Content:
        return Content.styled(CHECKBOX_GLYPHS[self.value], self.get_visual_style("toggle--button"))


class StateRadio(RadioButton):
    """A RadioButton showing ◉ when chosen and ○ when not."""

    @property
    def _button(self) -> Content:
        return Content.styled(RADIO_GLYPHS[self.value], self.get_visual_style("toggle--button"))
