"""The prompt drawn in front of its reply, so the reply continues the prompt's line (`明月` then
`几时有？` reads `明月几时有？`, not a verse split over two rows), in its own style; characters the
model skipped (not in its vocabulary) are struck through, so what the model read is visible.

The first `ReplyChunk` of a turn draws this lead, then the reply. `to_reply` / `to_content`
translate between the chunk's content coordinates (line, column) and the reply's own, so clicks
and the inspector's cursor still land on reply characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content, Span
from textual.style import Style

PROMPT_CLASS = "turn--prompt"
SKIPPED_CLASS = "turn--skipped"


@dataclass(frozen=True)
class Lead:
    """A prompt as drawn before its reply: `lines` newlines, the last line `width` characters."""

    content: Content
    lines: int = 0
    width: int = 0

    def to_reply(self, col: int, line: int) -> tuple[int, int] | None:
        """Content (column, line) → the reply's (column, line); None on the prompt itself."""
        if line < self.lines or (line == self.lines and col < self.width):
            return None
        return (col - self.width, 0) if line == self.lines else (col, line - self.lines)

    def to_content(self, line: int, col: int) -> tuple[int, int]:
        """The reply's (line, column) → content (line, column)."""
        return (self.lines, col + self.width) if line == 0 else (line + self.lines, col)


NO_LEAD = Lead(Content(""))


def prompt_lead(prompt: str, skipped: tuple[str, ...], style: Style | None, skipped_style: Style | None) -> Lead:
    """`prompt` in the prompt style, its skipped characters in the skipped style."""
    if not prompt:
        return NO_LEAD
    spans: list[Span] = []
    if style is not None:
        spans.append(Span(0, len(prompt), style))
    if skipped and skipped_style is not None:
        unknown = set(skipped)
        i = 0
        while i < len(prompt):
            if prompt[i] in unknown:
                j = i
                while j < len(prompt) and prompt[j] in unknown:
                    j += 1
                spans.append(Span(i, j, skipped_style))
                i = j
            else:
                i += 1
    return Lead(Content(prompt, spans=spans), prompt.count("\n"), len(prompt) - (prompt.rfind("\n") + 1))
