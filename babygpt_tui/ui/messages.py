"""Messages the background threads post to the app. They carry plain data only (no widgets),
so building and posting them from a worker thread is safe."""

from __future__ import annotations

import threading

from textual import events
from textual.message import Message

from ..api import Backend, GenStats


class ModelLoaded(Message):
    """The loader finished: `backend` is ready to generate."""

    def __init__(self, backend: Backend, seconds: float) -> None:
        super().__init__()
        self.backend = backend
        self.seconds = seconds


class ModelLoadFailed(Message):
    """The loader raised. `user_error` is True for problems the user can fix (bad path, …)."""

    def __init__(self, path: str, error: str, user_error: bool) -> None:
        super().__init__()
        self.path = path
        self.error = error
        self.user_error = user_error


class TokensGenerated(Message):
    """A batch of tokens (every ~30 ms or N tokens — never one message per token)."""

    def __init__(
        self,
        turn_id: int,
        text: str,
        count: int,
        tokens: int,
        rate: float,
        sample: float | None,
        cache_len: int,
        shifted: bool,
        prefill_ms: float,
        token_info: list | None = None,
    ) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.text = text  # the new text in this batch
        self.count = count  # tokens in this batch
        self.tokens = tokens  # tokens generated so far in this reply
        self.rate = rate  # decode tokens/s over the last half second
        self.sample = sample  # a new point for the rate sparkline (about 4 per second), or None
        self.cache_len = cache_len  # tokens in the KV cache after the last token of the batch
        self.shifted = shifted  # the context window was shifted during this batch
        self.prefill_ms = prefill_ms  # time to the first token (the exact prefill comes with the stats)
        self.token_info = token_info or []  # one `token_info.token_entry` per token of `text`
        self.handled = threading.Event()  # the UI sets it when done, so the worker may post the next batch


class GenerationFinished(Message):
    """The reply ended: `stats` when the engine produced them, `error` if it raised."""

    def __init__(self, turn_id: int, stats: GenStats | None, error: str = "") -> None:
        super().__init__()
        self.turn_id = turn_id
        self.stats = stats
        self.error = error


class TypedText(Message):
    """Text typed (or pasted, or Enter) on a widget that takes none — a slider, the transcript.
    The app moves it to the prompt, so typing works wherever the focus happens to be."""

    def __init__(self, text: str, submit: bool = False) -> None:
        super().__init__()
        self.text = text
        self.submit = submit

    @staticmethod
    def from_key(event: events.Key) -> TypedText | None:
        """The message for a key event, or None if the key is not text (arrows, ?, …)."""
        if event.key == "enter":
            return TypedText("", submit=True)
        if event.is_printable and event.character and event.character != "?":
            return TypedText(event.character)
        return None


class ForwardsTyping:
    """Mixed into widgets that take no text (sliders, the transcript): what is typed or pasted on
    them goes to the prompt, as a `TypedText` message the app handles."""

    def forward_typing(self, event: events.Key) -> None:
        if (message := TypedText.from_key(event)) is not None:
            event.stop()
            self.post_message(message)  # type: ignore[attr-defined]

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(TypedText(event.text))  # type: ignore[attr-defined]


class SessionWritten(Message):
    """An autosave finished in the writer thread: `path` on success, else `error`."""

    def __init__(self, job: object, path: object, error: str) -> None:
        super().__init__()
        self.job, self.path, self.error = job, path, error
