"""Textual messages, as small dataclasses (no hand-written __init__s). They carry plain data
only (no widgets), so building and posting them from another thread is safe.

The engine's events arrive on the engine client's reader thread and become these messages; the
app routes them to the reply lifecycle and the widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual import events
from textual.message import Message

from ..api import Explained, GenStats, Log, ModelInfo, Started, TokenBatch
from .backend import Capabilities


@dataclass
class ModelLoaded(Message):
    """The engine has loaded the model."""

    info: ModelInfo
    seconds: float


@dataclass
class ModelLoadFailed(Message):
    """The engine could not load the model. `user_error`: the user can fix it (bad path, …)."""

    path: str
    error: str
    user_error: bool


@dataclass
class ReplyStarted(Message):
    """The engine has read the prompt (what it skipped or cropped, before the first token)."""

    started: Started


@dataclass
class TokensGenerated(Message):
    """A batch of tokens (every ~30 ms or N tokens — never one message per token). The engine
    sends the next batch only once this one is acknowledged (`EngineClient.ack`)."""

    batch: TokenBatch


@dataclass
class GenerationFinished(Message):
    """The reply ended: `stats` when the engine produced them, `error` if it raised."""

    turn_id: int
    stats: GenStats | None
    error: str = ""


@dataclass
class EngineStopped(Message):
    """The engine process ended without being asked to (a crash, a kill): `reason` says how."""

    reason: str


@dataclass
class ExplanationReady(Message):
    """The engine's answer to an `Explain` request (attention and sampler stages of one step)."""

    explained: Explained


@dataclass
class EngineLog(Message):
    log: Log


@dataclass
class CapabilitiesChanged(Message):
    """What the backend can do changed: a server refused a knob, or sends no probabilities."""

    capabilities: Capabilities


@dataclass
class ServerNotice(Message):
    """Something the client of a server tells the user: unreachable, loading, a field refused."""

    text: str
    severity: Literal["information", "warning", "error"] = "warning"


@dataclass
class TypedText(Message):
    """Text typed (or pasted, or Enter) on a widget that takes none — a slider, the transcript.
    The app moves it to the prompt, so typing works wherever the focus happens to be."""

    text: str
    submit: bool = False

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
            self.post_message(message)  # type: ignore[attr-defined]  # a mixin of widgets

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(TypedText(event.text))  # type: ignore[attr-defined]  # a mixin of widgets


@dataclass
class SessionWritten(Message):
    """An autosave finished in the writer thread: `path` on success, else `error`."""

    job: object
    path: object
    error: str
