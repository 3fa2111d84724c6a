"""The chat's state without any widgets: the list of `session.Turn`s, how a prompt becomes a
`GenerationRequest` (fresh or continue), seeds, and how a finished run fills in its turn.

Sessions persistence plugs into `Conversation.turns`; the UI only renders what is here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..api import ContextMode, GenerationRequest, GenStats, ModelInfo, SamplingParams
from ..session import ModelRef, Turn

# Continue mode sends at most this many block_sizes of transcript; the engine crops the rest.
CONTEXT_CHARS_PER_BLOCK = 2


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    model: ModelRef = field(default_factory=lambda: ModelRef(""))
    block_size: int = 0
    active: Turn | None = None  # the turn being generated
    turn_id: int = 0  # increases with every generation; stale messages carry an older id

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
        return turn, GenerationRequest(prompt=text, params=params, seed=seed)

    def append_text(self, turn_id: int, text: str) -> Turn | None:
        """Add streamed text to the active turn; None if the message is stale."""
        if turn_id != self.turn_id or self.active is None:
            return None
        self.active.reply += text
        return self.active

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
