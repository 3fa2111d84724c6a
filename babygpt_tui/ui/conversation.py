"""The chat's state without any widgets: the list of `session.Turn`s, how a prompt becomes a
`GenerationRequest` (fresh or continue), seeds, and how a finished run fills in its turn.

Sessions persistence plugs into `Conversation.turns`; the UI only renders what is here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..api import Backend, ContextMode, GenerationRequest, GenStats, ModelInfo, SamplingParams
from ..session import ModelRef, Turn
from .token_info import TOP_ALTERNATIVES, forced_prefix, with_extras

# Continue mode sends at most this many block_sizes of transcript; the engine crops the rest.
CONTEXT_CHARS_PER_BLOCK = 2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def random_seed() -> int:
    return secrets.randbelow(2**31)


def describe_model(info: ModelInfo) -> str:
    """`songci-small.safetensors · 12.3M params · cpu · float32` for the header."""
    n = info.n_params
    count = f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K" if n >= 1e3 else str(n)
    return f"{info.name} · {count} params · {info.device} · {info.dtype}"


def unknown_chars_message(chars: list[str], limit: int = 20) -> str:
    shown = " ".join(repr(c) for c in chars[:limit]) + (" …" if len(chars) > limit else "")
    return f"Not in the model's vocabulary, skipped: {shown}"


def crop_prompt(prompt: str, block_size: int) -> tuple[str, str]:
    """Keep the end of a prompt far longer than the model can read (the engine crops to
    block_size tokens anyway; storing and drawing megabytes of unread text would only slow the
    transcript and the session file). Returns (prompt, a message for the user or "")."""
    limit = block_size * CONTEXT_CHARS_PER_BLOCK
    if not block_size or len(prompt) <= limit:
        return prompt, ""
    return prompt[-limit:], (
        f"The prompt has {len(prompt):,} characters; the model reads at most {block_size} characters "
        f"at a time, so the last {limit:,} were kept."
    )


def check_prompt(prompt: str, backend: Backend) -> tuple[str, list[tuple[str, str]]]:
    """The prompt to send, and (title, message) warnings for the user: cropped, unknown characters."""
    prompt, cropped = crop_prompt(prompt, backend.info.block_size)
    warnings = [("Long prompt cropped", cropped)] if cropped else []
    if unknown := backend.unknown_chars(prompt):
        warnings.append(("Unknown characters", unknown_chars_message(unknown)))
    return prompt, warnings


def same_model(a: ModelRef, b: ModelRef) -> bool:
    """Whether token ids of one model's turn are valid for the other (unknown names match)."""
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
    branching: dict | None = None  # the active turn is a branch: where from (see token_info.py)

    def set_model(self, info: ModelInfo) -> None:
        self.model = ModelRef(info.name, info.sha256)
        self.block_size = info.block_size

    def context_before(self, index: int) -> str:
        """The transcript text (prompts and replies) of the turns before `index`."""
        text = "".join(t.prompt + t.reply for t in self.turns[:index])
        limit = self.block_size * CONTEXT_CHARS_PER_BLOCK
        return text[-limit:] if limit else text

    def begin(
        self,
        prompt: str,
        params: SamplingParams,
        mode: ContextMode = "fresh",
        seed: int | None = None,
    ) -> tuple[Turn, GenerationRequest]:
        """Add a turn for `prompt` and build the request that generates its reply."""
        seed = random_seed() if seed is None else seed
        text = self.context_before(len(self.turns)) + prompt if mode == "continue" else prompt
        turn = Turn(
            prompt=prompt,
            params=params,
            seed=seed,
            context_mode=mode,
            model=self.model,
            started_at=now_iso(),
        )
        self.turns.append(turn)
        self.active = turn
        self.turn_id += 1
        self.branching = None
        return turn, GenerationRequest(prompt=text, params=params, seed=seed, top_alternatives=TOP_ALTERNATIVES)

    def replay(self, index: int) -> tuple[Turn, GenerationRequest]:
        """A new last turn regenerating turn `index` with its prompt, settings, seed and context
        (continue mode: the transcript before that turn). A stopped turn is replayed up to the
        length it reached, so the same model reproduces exactly its text."""
        old = self.turns[index]
        params = old.params
        if old.stop_reason == "stopped" and old.tokens:
            params = replace(params, max_new_tokens=old.tokens)
        context = self.context_before(index) if old.context_mode == "continue" else ""
        turn, request = self.begin(old.prompt, params, "fresh", old.seed)
        turn.context_mode = old.context_mode
        # a branch starts with the token that was forced: force it again
        return turn, replace(request, prompt=context + old.prompt, forced_prefix=forced_prefix(old.token_info))

    def append_text(self, turn_id: int, text: str, token_info: list | None = None) -> Turn | None:
        """Add streamed text (and its per-token probabilities) to the active turn; None if the
        message is stale."""
        if turn_id != self.turn_id or self.active is None:
            return None
        self.active.reply += text
        if token_info:
            if self.branching is not None and not self.active.token_info:
                token_info[0] = with_extras(token_info[0], branch=self.branching)
            self.active.token_info.extend(token_info)
        return self.active

    def branch(
        self, source: Turn, index: int, choice: int, params: SamplingParams, seed: int | None = None
    ) -> tuple[Turn, GenerationRequest]:
        """A new last turn that rewrites `source`'s reply from character `index` on, with token id
        `choice` forced there. Its prompt is the source's prompt plus the reply before `index`, so
        the model sees what it saw at that step (an empty prompt started from the corpus
        separator, a newline: it is kept). The source turn stays. ValueError if impossible."""
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
        prompt = (source.prompt if context + source.prompt else "\n") + source.reply[:index]
        turn, request = self.begin(prompt, params, "fresh", seed)
        turn.context_mode = source.context_mode
        self.branching = {"turn": number + 1, "at": index + 1, "was": source.reply[index]}
        return turn, replace(request, prompt=context + prompt, forced_prefix=(choice,))

    def finish(self, turn_id: int, stats: GenStats | None, error: str = "") -> Turn | None:
        if turn_id != self.turn_id or self.active is None:
            return None
        turn, self.active = self.active, None
        turn.finished_at = now_iso()
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
