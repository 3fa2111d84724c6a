"""What the explain views show — where the model looked (attention, F8) and what each sampler
stage did (pipeline, F9) — and how it is fetched. Headless: it sends protocol requests through
`send` and keeps what the views draw (`Shown`), so it is tested without a screen.

The step in view is the inspected character (with the knobs it was written with), or, when
nothing is inspected, the last character of the newest reply with the sidebar's knobs now, so a
slider moved after a reply reshapes the pipeline at once. The engine re-does that step's forward
over the window the model saw (`TokenRecord.window`; unknown in older sessions: the default).
While a reply streams, the pipeline view shows its live steps instead (the engine's watch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..api import Explain, Explained, ModelInfo, Request, SamplingParams, TokenBatch, Watch
from ..explanation import Explanation, StepStages
from ..session import Turn
from .backend import Capabilities
from .conversation import Conversation, prompt_up_to, same_model
from .token_info import params_at

REMOTE_NOTE = "not available on a remote server: only a model run by this TUI can be looked inside"
NOTHING_YET = "Send a prompt: these views explain the characters of a reply."
TOP = 10  # candidates per sampler stage asked for (the view shows what fits)


@dataclass(frozen=True)
class Target:
    """The step in view: reply character `index` of `turn`, the `number`-th turn."""

    turn: Turn
    index: int
    number: int
    params: SamplingParams
    recorded: bool  # the knobs the step was written with (else the sidebar's, now)


@dataclass(frozen=True)
class Shown:
    """What the views draw: an explanation of the target, the live step, or a note why not."""

    target: Target | None = None
    explanation: Explanation | None = None
    live: StepStages | None = None  # a streaming reply's latest watched step (pipeline view)
    note: str = ""  # why there is nothing to show ("" with an explanation, or while waiting)
    waiting: bool = False  # asked; the answer is on its way


def context_of(chat: Conversation, turn: Turn, index: int) -> str:
    """The text the model had before reply character `index`: the prompt as it was sent (with the
    transcript before it in continue mode), then the reply so far. An empty prompt started from
    the poem boundary, as a branch keeps it."""
    number = next((i for i, t in enumerate(chat.turns) if t is turn), len(chat.turns))
    context = chat.context_before(number) if turn.context_mode == "continue" else ""
    text = context + prompt_up_to(turn, context, index)
    return text[-chat.limit :] if chat.limit else text


class Explainer:
    def __init__(self, chat: Conversation, send: Callable[[Request], None]) -> None:
        self.chat, self.send = chat, send
        self.capabilities = Capabilities()
        self.attention = False  # the attention view is open
        self.pipeline = False  # the pipeline view is open
        self.inspecting = False
        self.params = SamplingParams()  # the sidebar's knobs
        self.shown = Shown(note=NOTHING_YET)
        self._asked = 0  # id of the newest Explain sent
        self._watching = False

    @property
    def open(self) -> bool:
        return self.attention or self.pipeline

    @property
    def unavailable(self) -> str:
        return REMOTE_NOTE if self.capabilities.unavailable("explain") else ""

    # ----- what happens ----------------------------------------------------------------------
    def toggle(self, view: str) -> bool:
        """Open or close the "attention" or "pipeline" view; True if it is open now."""
        was_open = self.open
        setattr(self, view, not getattr(self, view))
        self._watch()
        if self.open and not was_open:
            self._ask(self.shown.target or self._last_target())
        return bool(getattr(self, view))

    def inspected(self, turn: Turn | None, index: int = 0, number: int = 0) -> None:
        """The inspect cursor moved (turn None: inspect mode ended)."""
        self.inspecting = turn is not None
        if self.inspecting:
            self.shown = replace(self.shown, live=None)
        if turn is None:
            self._ask(self._last_target())
            return
        recorded = params_at(turn, index)
        self._ask(Target(turn, index, number, recorded or self.params, recorded is not None))

    def knobs_changed(self, params: SamplingParams) -> None:
        self.params = params
        target = self.shown.target
        if target is not None and not target.recorded:
            self._ask(replace(target, params=params))

    def reply_ended(self) -> None:
        """The live step is over; the views show the new last character (unless inspecting)."""
        self.shown = replace(self.shown, live=None)
        if not self.inspecting:
            self._ask(self._last_target())

    def loaded(self, info: ModelInfo, capabilities: Capabilities) -> None:
        """A (new) engine has the model: it starts unwatched, and older answers are moot."""
        self.capabilities = capabilities
        self._watching = False
        self._watch()
        self._ask(self.shown.target or self._last_target())

    def set_capabilities(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self._watch()

    def answered(self, message: Explained) -> bool:
        """An engine answer; True when it is the one the views wait for."""
        if message.id != self._asked or not self.shown.waiting:
            return False
        note = "" if message.explanation is not None else f"The engine could not explain it: {message.error}"
        self.shown = replace(self.shown, explanation=message.explanation, note=note, waiting=False)
        return True

    def tokens(self, batch: TokenBatch) -> bool:
        """A streamed batch; True when it brought a live step for the pipeline view (not while a
        character is inspected: then the view stays on that one)."""
        if batch.pipeline is None or not self.pipeline or self.inspecting:
            return False
        self.shown = replace(self.shown, live=batch.pipeline)
        return True

    # ----- requests ----------------------------------------------------------------------------
    def _watch(self) -> None:
        want = self.pipeline and not self.unavailable
        if want != self._watching:
            self._watching = want
            self.send(Watch(pipeline=want, top=TOP))

    def _last_target(self) -> Target | None:
        turn = next((t for t in reversed(self.chat.turns) if t.reply and t is not self.chat.active), None)
        if turn is None:
            return None
        return Target(turn, len(turn.reply) - 1, self.chat.turns.index(turn) + 1, self.params, False)

    def _ask(self, target: Target | None) -> None:
        """Show `target`: ask the engine to explain it (when a view is open and it can)."""
        if target is None or not self.open:
            self.shown = Shown(target, note=self.unavailable or ("" if target else NOTHING_YET), live=self.shown.live)
            return
        if why := self.unavailable or self._why_not(target):
            self.shown = Shown(target, note=why, live=self.shown.live)
            return
        self._asked += 1
        turn, index = target.turn, target.index
        record = turn.records[index] if index < len(turn.records) else None
        context = context_of(self.chat, turn, index)
        window = record.window if record is not None else 0
        self.send(Explain(self._asked, context, turn.reply[index], window, target.params, TOP, turn.seed))
        self.shown = Shown(target, waiting=True, live=self.shown.live)

    def _why_not(self, target: Target) -> str:
        if self.chat.block_size and not same_model(target.turn.model, self.chat.model):
            return (
                f"This reply was written by {target.turn.model.short}, not by the model loaded now "
                f"({self.chat.model.short}), so its step cannot be re-done."
            )
        if not self.chat.block_size:
            return "The model is still loading."
        return ""
