"""The chat's state without any widgets: the list of `session.Turn`s, how a prompt becomes a
`GenerationRequest` (fresh or continue, cropped once), and how streamed batches and the end of a
reply fill in its turn. `lifecycle.ReplyLifecycle` drives it; the UI only renders what is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..api import (
    POEM_BOUNDARY,
    TOP_ALTERNATIVES,
    ContextMode,
    GenerationRequest,
    GenStats,
    ModelInfo,
    ParamsSchedule,
    SamplingParams,
    TokenBatch,
    random_seed,
)
from ..session import BranchRef, ModelRef, Turn, utc_now
from .token_info import forced_prefix

# A model on a server counts its block in tokens of its own (often several characters each), so at
# most this many block_sizes of characters are sent to it; a character model here reads exactly
# block_size characters, and that is the one crop (storing or drawing megabytes of unread text
# would only slow the UI and the file).
CONTEXT_CHARS_PER_BLOCK = 2


def prompt_up_to(turn: Turn, context: str, index: int) -> str:
    """The prompt of `turn` as the model read it, then its reply before character `index`: an
    empty prompt (with no transcript before it) started from the poem boundary, a blank line."""
    return (turn.prompt if context + turn.prompt else POEM_BOUNDARY) + turn.reply[:index]


def unknown_chars_message(chars: tuple[str, ...] | list[str], limit: int = 20) -> str:
    shown = " ".join(repr(c) for c in chars[:limit]) + (" …" if len(chars) > limit else "")
    return f"Not in the model's vocabulary, skipped: {shown}"


def same_model(a: ModelRef, b: ModelRef) -> bool:
    """Whether token ids of one model's turn are valid for the other (unknown names match). A
    model on a server is the same only as that model on that server."""
    if a.server or b.server:
        return a.server == b.server and (not a.name or not b.name or a.name == b.name)
    if a.sha256 and b.sha256:
        return a.sha256 == b.sha256
    return not a.name or not b.name or a.name == b.name


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    model: ModelRef = field(default_factory=lambda: ModelRef(""))
    block_size: int = 0
    active: Turn | None = None  # the turn being generated
    turn_id: int = 0  # increases with every generation; stale messages carry an older id

    def set_model(self, info: ModelInfo) -> None:
        self.model = ModelRef(info.name, info.sha256, info.server)
        self.block_size = info.block_size

    @property
    def limit(self) -> int:
        """Characters of text sent to the engine at most (0: no model yet, no limit): what the
        model reads, so nothing further is cropped where the user cannot see it."""
        return self.block_size * (CONTEXT_CHARS_PER_BLOCK if self.model.server else 1)

    def cropped_note(self, prompt: str) -> str:
        """What the user is told when `prompt` is longer than the model can read, else ''."""
        if not self.limit or len(prompt) <= self.limit:
            return ""
        left_out = len(prompt) - self.limit
        if self.model.server:
            reads = f"the server's model reads at most {self.block_size:,} tokens"
        else:
            reads = f"the model reads at most {self.block_size:,} characters"
        return (
            f"The prompt has {len(prompt):,} characters; {reads}, so the last {self.limit:,} were sent "
            f"and the first {left_out:,} left out."
        )

    def context_before(self, index: int) -> str:
        """The transcript text (prompts and replies) of the turns before `index`."""
        text = "".join(t.prompt + t.reply for t in self.turns[:index])
        return text[-self.limit :] if self.limit else text

    def begin(
        self,
        prompt: str,
        params: SamplingParams,
        mode: ContextMode = "fresh",
        seed: int | None = None,
        context: str | None = None,
        stop: tuple[str, ...] = (),
    ) -> tuple[Turn, GenerationRequest]:
        """Add a turn for `prompt` and build the request that generates its reply — the one place
        a prompt is cropped. `context`: the text before it (default: none in fresh mode, the
        transcript in continue mode)."""
        if context is None:
            context = self.context_before(len(self.turns)) if mode == "continue" else ""
        if self.limit:
            prompt = prompt[-self.limit :]
            text = (context + prompt)[-self.limit :]
        else:
            text = context + prompt
        seed = random_seed() if seed is None else seed
        turn = Turn(
            prompt=prompt,
            params=params,
            seed=seed,
            context_mode=mode,
            model=self.model,
            started_at=utc_now(),
            stop=stop,
        )
        self.turns.append(turn)
        self.active = turn
        self.turn_id += 1
        request = GenerationRequest(prompt=text, params=params, seed=seed, top_alternatives=TOP_ALTERNATIVES, stop=stop)
        return turn, request

    def replay(self, index: int) -> tuple[Turn, GenerationRequest, ParamsSchedule]:
        """A new last turn regenerating turn `index` with its prompt, settings, seed and context
        (continue mode: the transcript before that turn), and the knobs as they were at each of
        its steps. It is replayed to the length the turn reached (its stored token count: a
        stopped, a length-limited and a stop-string turn alike, and a replay of a replay), so
        the same model reproduces exactly its text; a branch's forced tokens are forced again."""
        old = self.turns[index]
        params, schedule = old.params, tuple(old.params_changes)
        if old.tokens:
            params = replace(params, max_new_tokens=old.tokens)
            schedule = tuple((step, replace(p, max_new_tokens=old.tokens)) for step, p in schedule)
        context = self.context_before(index) if old.context_mode == "continue" else ""
        turn, request = self.begin(old.prompt, params, old.context_mode, old.seed, context=context, stop=old.stop)
        turn.branch = old.branch
        return turn, replace(request, forced_prefix=forced_prefix(old.records)), schedule

    def branch(
        self,
        source: Turn,
        index: int,
        choice: int,
        params: SamplingParams,
        seed: int | None = None,
        stop: tuple[str, ...] = (),
    ) -> tuple[Turn, GenerationRequest]:
        """A new last turn that rewrites `source`'s reply from character `index` on, with token id
        `choice` forced there. Its prompt is the source's prompt plus the reply before `index`, so
        the model sees what it saw at that step (an empty prompt started from the corpus
        boundary, a blank line: it is kept). The source turn stays. ValueError if impossible."""
        if self.active is not None or not self.block_size:
            busy = "A reply is being written (Esc stops it)" if self.active else "The model is still loading"
            raise ValueError(f"{busy}; branch when it is done.")
        number = next((i for i, t in enumerate(self.turns) if t is source), None)
        if number is None or not 0 <= index < len(source.reply):
            raise ValueError("That reply is no longer in the conversation.")
        if not same_model(source.model, self.model):
            raise ValueError(
                f"This reply was written by {source.model.short}, not by the model loaded now "
                f"({self.model.short}); token ids differ between models, so it cannot be branched."
            )
        context = self.context_before(number) if source.context_mode == "continue" else ""
        prompt = prompt_up_to(source, context, index)
        turn, request = self.begin(prompt, params, source.context_mode, seed, context=context, stop=stop)
        turn.branch = BranchRef(number + 1, index + 1, source.reply[index])
        return turn, replace(request, forced_prefix=(choice,))

    def keep_alternatives(self, old: Turn, new: Turn) -> None:
        """`new` replaces `old` (Ctrl+R): `old`'s replies stay, as `new`'s alternatives, before it."""
        new.alternatives = old.versions
        new.alternative = len(new.alternatives)
        old.alternatives, old.alternative = [], 0

    def browse(self, index: int, step: int) -> tuple[Turn, Turn] | None:
        """Show the previous (-1) or next (+1) reply of turn `index`: (the turn shown until now,
        the one shown from now on), or None at either end or while that turn is being written."""
        turn = self.turns[index]
        target = turn.alternative + step
        if turn is self.active or not 0 <= target < len(turn.versions):
            return None
        shown = turn.shown_as(target)
        self.turns[index] = shown
        return turn, shown

    def append(self, batch: TokenBatch) -> Turn | None:
        """Add a streamed batch (text, per-token records, knob changes) to the active turn; None
        if the batch is stale (an older reply's)."""
        if batch.turn != self.turn_id or self.active is None:
            return None
        turn = self.active
        turn.reply += batch.text
        turn.records.extend(batch.records)
        turn.params_changes.extend(batch.params_changes)
        return turn

    def finish(self, turn_id: int, stats: GenStats | None, error: str = "") -> Turn | None:
        if turn_id != self.turn_id or self.active is None:
            return None
        turn, self.active = self.active, None
        turn.finished_at = utc_now()
        if stats is not None:
            turn.tokens = stats.tokens
            turn.decode_tokens_per_s = stats.decode_tokens_per_s
            turn.prefill_ms = stats.prefill_ms
            turn.stop_reason = stats.stop_reason
            turn.error = stats.error
        if error:
            turn.stop_reason, turn.error = "error", error
        if turn.stop_reason is None:
            turn.stop_reason = "length"
        if not turn.tokens:
            turn.tokens = len(turn.reply)
        return turn

    @property
    def generating(self) -> bool:
        return self.active is not None

    def last_reply(self) -> str:
        for turn in reversed(self.turns):
            if turn.reply:
                return turn.reply
        return ""
