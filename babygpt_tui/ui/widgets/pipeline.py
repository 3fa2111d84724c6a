"""The sampler pipeline view (F9): one row per stage, in the sampler's order (raw → repetition
penalty → temperature → top-k → top-p → min-p → the draw), each with the most likely candidates
still possible after it as small bars, so moving a knob visibly reshapes the distribution.

It shows a streaming reply's latest watched step (the engine sends one at most ~10 times a
second, so it redraws no faster), else the step in view (see `explaining`). The row of the draw
marks the character taken (▸: by the reply, or by the knobs now); at temperature 0 it is one bar
at 100 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from ...explanation import Candidate, Stage
from ..explaining import Shown
from ..token_info import shown as visible
from .inspector import bar

LABEL = 18  # cells of a row's label: the stage's name and how many characters it keeps
BAR = 3  # cells of one candidate's bar
CANDIDATE = 1 + 2 + BAR + 5  # a mark (▸: the one taken), its character (2 cells), bar, percent
TITLES = {"penalty": "repeat pen.", "draw": "the draw"}
BAR_CLASSES = ("pipeline--bar", "pipeline--off", "pipeline--chosen")


def short_percent(p: float) -> str:
    """Four cells: ' 45%', '100%', ' <1%'."""
    if p >= 0.995:
        return "100%"
    return " <1%" if p < 0.005 else f"{p * 100:3.0f}%"


def fitting(width: int) -> int:
    """How many candidates fit a row `width` cells wide (at least one)."""
    return max(1, (width - LABEL) // CANDIDATE)


def stage_label(stage: Stage) -> str:
    title = TITLES.get(stage.name, stage.title)
    return f"{title:<11}{stage.kept:>6,} "


def candidate_cells(c: Candidate, mark: bool) -> str:
    """`▸来██▎  19%`: bars are √p long, so a 4 % candidate still shows (half a cell) and 100 % is
    full; the same scale in every row and every step, so a knob that sharpens grows the bars."""
    char = visible(c.text)
    char = char if Content(char).cell_length >= 2 else char + " "
    return f"{'▸' if mark else ' '}{char}{bar(math.sqrt(c.prob), BAR)} {short_percent(c.prob)}"


def stage_row(stage: Stage, n: int, chosen: int | None, styles: Sequence[Style], greedy: bool) -> Content:
    """One stage: its label and its top `n` candidates (the chosen one marked), or why it is off."""
    bar_style, off_style, chosen_style = styles
    if not stage.on:
        why = "not used at temperature 0" if greedy and stage.name in ("top_k", "top_p", "min_p") else "off"
        return Content.assemble((f"{TITLES.get(stage.name, stage.title):<{LABEL}}{why}", off_style))
    parts: list[tuple[str, Style] | str] = [stage_label(stage)]
    shown = list(stage.top[:n])
    taken = [c for c in stage.top if c.id == chosen]
    if stage.name == "draw" and taken and taken[0] not in shown:
        shown[-1] = taken[0]  # the draw row always shows the character taken, in the last place
    for c in shown:
        mark = c.id == chosen and stage.name == "draw"
        parts.append((candidate_cells(c, mark), chosen_style if mark else bar_style))
    return Content.assemble(*parts)


class PipelineView(Static):
    """The sampler's stages for the live step or the step in view (see the module docstring)."""

    COMPONENT_CLASSES = set(BAR_CLASSES)

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.state = Shown()

    def on_mount(self) -> None:
        self.border_subtitle = "the knobs reshape it"
        self.border_title = title(self.state)

    def show(self, state: Shown) -> None:
        rows = len(self.rows)
        self.state = state
        self.border_title = title(state)
        # a new height (a note → the stages) needs a layout pass; a live step only a repaint
        self.refresh(layout=len(self.rows) != rows or not rows)

    @property
    def rows(self) -> list[Stage]:
        """The stages drawn now (live step first), [] when there are none."""
        state = self.state
        if state.live is not None:
            return list(state.live.stages)
        return list(state.explanation.stages) if state.explanation is not None else []

    def render(self) -> Content:
        return self.drawn()

    def drawn(self) -> Content:
        """What the view shows now: one row per stage, or a note."""
        state = self.state
        target = state.target
        if state.live is not None:
            stages, chosen = state.live.stages, state.live.drawn.id
        elif state.explanation is not None and target is not None:
            e = state.explanation
            # as written: the character the reply took; with the knobs now: the one they pick
            stages, chosen = e.stages, (e.actual if target.recorded and e.actual else e.drawn).id
        else:
            note = state.note if target is not None or state.note else ""
            return Content(
                ("looking…" if state.waiting else note) or "The sampler's stages show while a reply streams."
            )
        n = fitting(self.content_size.width or 80)
        styles = [self.get_visual_style(name) for name in BAR_CLASSES]
        greedy = any(s.name == "temperature" for s in stages) and _greedy(stages)
        return Content("\n").join(stage_row(s, n, chosen, styles, greedy) for s in stages)


def title(state: Shown) -> str:
    """`sampler · step 42 · live`, `sampler · turn 2 char 7 · as written` (or `· knobs now`)."""
    target = state.target
    if state.live is not None:
        return f"sampler · step {state.live.step + 1} · live"
    if state.explanation is not None and target is not None:
        knobs = "as written" if target.recorded else "knobs now"
        return f"sampler · turn {target.number} char {target.index + 1} · {knobs}"
    return "sampler"


def _greedy(stages: Sequence[Stage]) -> bool:
    """Temperature 0 (greedy): the temperature stage keeps one character."""
    return next(s for s in stages if s.name == "temperature").kept == 1
