"""Finding text in the transcript: which turns hold it (their prompt or any of their replies,
ignoring case) and which match comes next from the selected turn. Headless, no widgets."""

from __future__ import annotations

from ..session import Turn


def matching_turns(turns: list[Turn], text: str) -> list[int]:
    """Indices of the turns whose prompt or one of whose replies contains `text` (case-folded)."""
    needle = text.casefold()
    if not needle:
        return []
    return [
        i
        for i, turn in enumerate(turns)
        if needle in turn.prompt.casefold() or any(needle in v.reply.casefold() for v in turn.versions)
    ]


def next_match(matches: list[int], current: int | None, step: int) -> int | None:
    """The position in `matches` to go to from turn `current` (None: from the end): step 0 the
    current turn if it matches, else the next one down; +1 / -1 the next / previous, wrapping."""
    if not matches:
        return None
    if current is None:
        return len(matches) - 1 if step <= 0 else 0
    if step == 0:
        return next((k for k, i in enumerate(matches) if i >= current), len(matches) - 1)
    if step > 0:
        return next((k for k, i in enumerate(matches) if i > current), 0)
    return next((k for k in range(len(matches) - 1, -1, -1) if matches[k] < current), len(matches) - 1)
