"""The prompt: a multi-line TextArea where Enter sends and Ctrl+J inserts a new line.

Shift+Enter cannot be told apart from Enter in most terminals, so the documented newline key is
Ctrl+J (Alt+Enter and Shift+Enter also work where the terminal reports them). Up on the first
line and Down on the last line walk through earlier prompts, like a shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = {"ctrl+j", "alt+enter", "shift+enter", "newline"}
# A paste longer than this keeps only its end: a model reads a few hundred characters at most,
# and TextArea re-wraps the whole document on every edit (a 1 MB paste froze the UI for ~20 s).
MAX_PASTE = 16_384


class PromptInput(TextArea):
    @dataclass
    class Submitted(Message):
        """Enter was pressed; the app decides whether to accept (and clear) the text."""

        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            compact=True,
            highlight_cursor_line=False,
            placeholder="Prompt — Enter sends, Ctrl+J new line, ↑/↓ history (empty: a new poem)",
        )
        self.prompt_history: list[str] = []
        self._browse: int | None = None  # index into history while browsing
        self._draft = ""  # what was typed before browsing started

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
        elif key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
        elif event.character in ("[", "]") and not self.text:
            # An empty box: `[` / `]` browse the replies of the last turn, as on the transcript.
            event.stop()
            event.prevent_default()
            await self.run_action(f"app.alternative({-1 if event.character == '[' else 1})")
        elif key == "up" and self.cursor_location[0] == 0 and self.prompt_history:
            event.stop()
            event.prevent_default()
            self.recall(-1)
        elif key == "down" and self.cursor_location[0] == self.document.line_count - 1 and self._browse is not None:
            event.stop()
            event.prevent_default()
            self.recall(1)
        # Any other key: TextArea's own handler runs next (Textual walks the MRO).

    async def _on_paste(self, event: events.Paste) -> None:
        if len(event.text) <= MAX_PASTE:
            return  # TextArea's own handler inserts it
        event.stop()
        event.prevent_default()
        self.notify(
            f"Pasted {len(event.text):,} characters; kept the last {MAX_PASTE:,} "
            "(the model reads only the end of a prompt).",
            title="Long paste cropped",
            severity="warning",
        )
        await super()._on_paste(events.Paste(event.text[-MAX_PASTE:]))

    def recall(self, direction: int) -> None:
        """Show the previous (-1) or next (+1) prompt from the history."""
        if self._browse is None:
            if direction > 0:
                return
            self._draft = self.text
            index = len(self.prompt_history) - 1
        else:
            index = self._browse + direction
        if index < 0:
            return
        if index >= len(self.prompt_history):
            self._browse = None
            self._set(self._draft)
            return
        self._browse = index
        self._set(self.prompt_history[index])

    def _set(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    def load_for_editing(self, text: str) -> None:
        """Put `text` in the box to edit (an earlier turn's prompt), cursor at its end, focused."""
        self._browse, self._draft = None, ""
        self._set(text)
        self.focus()

    def accept(self) -> str:
        """Clear the box and remember its text in the history; returns the text."""
        text = self.text
        if text and (not self.prompt_history or self.prompt_history[-1] != text):
            self.prompt_history.append(text)
        self._browse, self._draft = None, ""
        self.load_text("")
        return text
