"""Asking before unsaved turns are thrown away (autosave off: quit, new session, open another).

With autosave on nothing is ever unsaved at those moments, so nobody is asked. No torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .screens.dialogs import Choice, ChoiceDialog

if TYPE_CHECKING:
    from .session_controller import SessionController


def guard(sessions: SessionController, verb: str, action: Callable[[], Any]) -> None:
    """Run `action`, first asking Save / Discard / Cancel if it would drop unsaved turns."""
    n = sessions.unsaved_turns()
    if not n:
        action()
        return

    def chosen(choice: str | None) -> None:
        if choice == "save" and sessions.save(force=True) is None:
            return  # the save failed (its notification says why): drop nothing
        if choice in ("save", "discard"):
            action()

    name = sessions.session.name
    question = (
        f"Session {name!r} has {n} unsaved turn{'s' if n != 1 else ''} (autosave is off). Save before you {verb}?"
    )
    choices = [
        Choice("Save", "save", "s", "primary"),
        Choice("Discard", "discard", "d", "error"),
        Choice("Cancel", None, "c"),
    ]
    sessions.app.push_screen(ChoiceDialog(question, choices), chosen)
