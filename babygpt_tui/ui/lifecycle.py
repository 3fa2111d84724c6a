"""One owner for the life of a reply: the request (built once, cropped once), its turn id, cancel,
the prompt queued while the model loads, regenerate, replay, branch, and what happens when the
engine dies. Headless: it sends protocol requests through `send`, starts an engine through
`start_engine`, and returns an `Outcome` the app renders (turns to show, notes to notify), so it
is tested without a screen (tests/ui/test_lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from ..api import (
    Cancel,
    ContextMode,
    Generate,
    GenerationRequest,
    GenStats,
    ModelInfo,
    ParamsSchedule,
    Request,
    SamplingParams,
    Started,
    TokenBatch,
    random_seed,
)
from ..session import Turn
from .conversation import Conversation, same_model, unknown_chars_message

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class Note:
    """Something to tell the user (a notification)."""

    text: str
    title: str = ""
    severity: Severity = "information"


@dataclass(frozen=True)
class Knobs:
    """What the sidebar says when a reply starts."""

    params: SamplingParams
    mode: ContextMode = "fresh"
    seed: int | None = None  # the fixed seed; None: a random one per reply
    stop: tuple[str, ...] = ()  # the reply ends before the first of these (not shown)


@dataclass(frozen=True)
class Outcome:
    """What changed, for the app to render."""

    started: Turn | None = None  # a new turn to show (and its seed)
    removed: Turn | None = None  # a turn to take off the transcript
    finished: Turn | None = None  # a turn that has ended
    notes: tuple[Note, ...] = ()
    accepted: bool = False  # submit: the prompt leaves the box
    redrawn: Turn | None = None  # a turn whose prompt is drawn anew (its skipped characters are known)
    replaced: tuple[Turn, Turn] | None = None  # (old, new): another reply of the same turn is shown

    def plus(self, other: Outcome) -> Outcome:
        return Outcome(
            other.started or self.started,
            other.removed or self.removed,
            other.finished or self.finished,
            self.notes + other.notes,
            self.accepted or other.accepted,
            other.redrawn or self.redrawn,
            other.replaced or self.replaced,
        )


class ReplyLifecycle:
    def __init__(
        self,
        chat: Conversation,
        send: Callable[[Request], None],
        start_engine: Callable[[], None],
        context_keep: int | None = None,
    ) -> None:
        self.chat, self.send, self.start_engine, self.context_keep = chat, send, start_engine, context_keep
        self.ready = False  # a model is loaded in a running engine
        self.engine_up = False  # an engine is running (loading or ready)
        self.queued: tuple[str, Knobs] | None = None  # sent before the model was ready
        self.regenerate_after: Knobs | None = None  # Ctrl+R while generating: once the reply has ended
        self.replaying: int | None = None  # the (1-based) turn a running replay reproduces
        self._told_replay = False  # a knob moved during this replay: said once

    # ----- the engine --------------------------------------------------------------------------
    def engine_starting(self) -> None:
        self.engine_up, self.ready = True, False

    def loaded(self, info: ModelInfo) -> Outcome:
        self.ready = True
        self.chat.set_model(info)
        if self.queued is None:
            return Outcome()
        prompt, knobs = self.queued
        self.queued = None
        return self._start(prompt, knobs)

    def load_failed(self) -> None:
        self.ready = self.engine_up = False
        self.queued = None

    def engine_stopped(self, reason: str) -> Outcome:
        """The engine died: the reply in progress keeps its text, marked as an error."""
        was_ready, self.ready, self.engine_up = self.ready, False, False
        self.regenerate_after = self.replaying = None
        finished = self.chat.finish(self.chat.turn_id, None, reason) if self.chat.active is not None else None
        kept = "The reply so far is kept. " if finished else ""
        note = Note(f"{reason}. {kept}A fresh engine starts with the next prompt.", "The engine stopped", "error")
        outcome = Outcome(finished=finished, notes=(note,))
        if self.queued is not None and not was_ready:  # it died loading: do not loop on it
            self.queued = None
        elif self.queued is not None:
            prompt, knobs = self.queued
            self.queued = None
            outcome = outcome.plus(self._start(prompt, knobs))
        return outcome

    # ----- a reply -----------------------------------------------------------------------------
    def submit(self, prompt: str, knobs: Knobs) -> Outcome:
        """A prompt from the box: started, queued until the model is ready, or refused (busy)."""
        if self.chat.generating or self.queued is not None:
            busy = "Still generating — press Esc to stop it" if self.queued is None else "The model is still loading"
            return Outcome(notes=(Note(f"{busy}; your prompt stays in the box.", severity="warning"),))
        return self._start(prompt, knobs).plus(Outcome(accepted=True))

    def _start(self, prompt: str, knobs: Knobs, seed: int | None = None) -> Outcome:
        if not self.ready:
            self.queued = (prompt, replace(knobs, seed=knobs.seed if seed is None else seed))
            if not self.engine_up:
                self.engine_starting()
                self.start_engine()
                return Outcome(notes=(Note("Starting a fresh engine; your prompt runs as soon as it is ready."),))
            return Outcome(notes=(Note("The model is still loading; your prompt runs as soon as it is ready."),))
        notes: tuple[Note, ...] = ()
        if cropped := self.chat.cropped_note(prompt):
            notes = (Note(cropped, "Long prompt cropped", "warning"),)
        seed = knobs.seed if seed is None else seed
        turn, request = self.chat.begin(prompt, knobs.params, knobs.mode, seed, stop=knobs.stop)
        return self._generate(turn, request).plus(Outcome(notes=notes))

    def _generate(self, turn: Turn, request: GenerationRequest, schedule: ParamsSchedule = ()) -> Outcome:
        request = replace(request, context_keep=self.context_keep)
        self.send(Generate(self.chat.turn_id, request, schedule))
        return Outcome(started=turn)

    def started(self, event: Started) -> Outcome:
        """The engine read the prompt: name the characters it skipped, and mark them in the prompt."""
        if event.turn != self.chat.turn_id or not event.skipped_chars or self.chat.active is None:
            return Outcome()
        turn = self.chat.active
        turn.skipped = event.skipped_chars
        note = Note(unknown_chars_message(event.skipped_chars), "Unknown characters", "warning")
        return Outcome(notes=(note,), redrawn=turn)

    def tokens(self, batch: TokenBatch) -> Turn | None:
        return self.chat.append(batch)

    def knobs_moved(self) -> Outcome:
        """A knob moved: a running replay ignores it (it follows the stored settings), so say so once."""
        if self.replaying is None or not self.chat.generating or self._told_replay:
            return Outcome()
        self._told_replay = True
        text = (
            f"This replay follows turn {self.replaying}'s stored settings, so the knob does not change it; "
            "it applies from the next reply."
        )
        return Outcome(notes=(Note(text, "Replay", "warning"),))

    def finished(self, turn_id: int, stats: GenStats | None, error: str = "") -> Outcome:
        turn = self.chat.finish(turn_id, stats, error)
        if turn is None:
            return Outcome()
        self.replaying = None
        if turn.stop_reason != "error":
            return Outcome(finished=turn)
        return Outcome(finished=turn, notes=(Note(turn.error or "unknown error", "Generation failed", "error"),))

    def stop(self) -> None:
        """Esc: the running reply ends at its next token (kept, marked stopped)."""
        if self.chat.generating:
            self.send(Cancel(self.chat.turn_id))

    def quit(self) -> Turn | None:
        """Quitting: the running reply is stopped now and kept, marked stopped."""
        self.replaying = None
        if self.chat.active is None:
            return None
        self.send(Cancel(self.chat.turn_id))
        self.chat.active.stop_reason = "stopped"
        return self.chat.finish(self.chat.turn_id, None)

    def regenerate(self, knobs: Knobs) -> Outcome:
        """The last reply again with a new seed (stopping the running one first). The reply it
        replaces is kept, as an alternative of the same turn (`[` / `]` browse them)."""
        if not self.chat.turns:
            return Outcome(notes=(Note("Nothing regenerated: no turn yet — send a prompt first.", severity="warning"),))
        if self.chat.generating:
            self.regenerate_after = knobs
            self.stop()
            return Outcome()
        if (refused := self._refusal("regenerated")) is not None:
            return Outcome(notes=(refused,))
        last = self.chat.turns.pop()
        outcome = self._start(last.prompt, knobs, seed=random_seed())
        if outcome.started is None:  # cannot happen once the model is ready; never lose the reply
            self.chat.turns.append(last)
            return outcome
        self.chat.keep_alternatives(last, outcome.started)
        return Outcome(removed=last).plus(outcome)

    def browse(self, index: int | None, step: int) -> Outcome:
        """Show turn `index`'s (the last by default) previous (-1) or next (+1) reply."""
        if not self.chat.turns:
            return Outcome(notes=(Note("No turn yet: nothing to browse.", severity="warning"),))
        i = len(self.chat.turns) - 1 if index is None else index
        turn = self.chat.turns[i]
        if turn is self.chat.active:
            return Outcome(notes=(Note("This reply is still being written (Esc stops it).", severity="warning"),))
        n = len(turn.versions)
        if n == 1:
            note = f"Turn {i + 1} has one reply; Ctrl+R on the last turn writes another (both are kept)."
            return Outcome(notes=(Note(note),))
        replaced = self.chat.browse(i, step)
        if replaced is None:
            end = "first" if step < 0 else "last"
            return Outcome(notes=(Note(f"Turn {i + 1}: reply {turn.alternative + 1} of {n} is the {end}."),))
        return Outcome(replaced=replaced)

    def take_regenerate(self) -> Knobs | None:
        """The knobs of a regenerate that waited for the reply to end (once)."""
        knobs, self.regenerate_after = self.regenerate_after, None
        return knobs

    def _refusal(self, what: str) -> Note | None:
        if not self.ready:
            if not self.engine_up:
                self.engine_starting()
                self.start_engine()
            return Note(f"Nothing {what}: the model is still loading.", severity="warning")
        if self.chat.generating:
            return Note(f"Nothing {what}: a reply is running (Esc stops it).", severity="warning")
        return None

    def replay(self, index: int | None = None) -> Outcome:
        """Regenerate a turn (the last by default) with its stored settings, seed and knob changes."""
        if not self.chat.turns:
            return Outcome(notes=(Note("Nothing replayed: no turn yet.", severity="warning"),))
        if (refused := self._refusal("replayed")) is not None:
            return Outcome(notes=(refused,))
        i = len(self.chat.turns) - 1 if index is None else index
        old = self.chat.turns[i]
        notes = []
        if old.model.name and not same_model(old.model, self.chat.model):
            notes.append(
                Note(
                    f"Turn {i + 1} was generated by {old.model.short}; the loaded model is {self.chat.model.short}, "
                    "so the text may differ.",
                    "Different model",
                    "warning",
                )
            )
        turn, request, schedule = self.chat.replay(i)
        notes.append(
            Note(f"Replaying turn {i + 1} with seed {old.seed} and its settings, to its {old.tokens or 'full'} tokens.")
        )
        self.replaying, self._told_replay = i + 1, False
        return self._generate(turn, request, schedule).plus(Outcome(notes=tuple(notes)))

    def branch(self, source: Turn, index: int, choice: int, knobs: Knobs) -> Outcome:
        """Rewrite `source`'s reply from character `index` on, with token `choice` forced there."""
        if (refused := self._refusal("branched")) is not None:
            return Outcome(notes=(refused,))
        try:
            turn, request = self.chat.branch(source, index, choice, knobs.params, knobs.seed, knobs.stop)
        except ValueError as e:
            return Outcome(notes=(Note(str(e), severity="warning"),))
        return self._generate(turn, request)
