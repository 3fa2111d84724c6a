"""Response bodies and stream chunks in OpenAI's shapes, built from the engine's typed records.

`Reply` accumulates what one request has produced; `chunk(...)` turns a batch of new tokens
into one stream chunk and `final(...)` the whole answer. Completions use the legacy logprobs
shape (tokens, token_logprobs, top_logprobs, text_offset); chat uses `logprobs.content`. Two
extensions: `seed` (the seed used, so any answer can be reproduced) and `warnings` (skipped
characters, a cropped prompt) when there are any.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api import Alternative, GenStats, StopReason, TokenEvent
from .prompt_tokens import PromptToken
from .schema import Spec

LOGPROB_FLOOR = -9999.0  # what OpenAI reports for a probability too small for a float (JSON has no -inf)
FINISH_REASONS: dict[StopReason, str] = {"length": "length", "stop": "stop", "stopped": "stop", "error": "error"}


def _lp(prob_or_logprob: float, is_prob: bool = False) -> float:
    if is_prob:
        return math.log(prob_or_logprob) if prob_or_logprob > 0 else LOGPROB_FLOOR
    return max(prob_or_logprob, LOGPROB_FLOOR)


@dataclass(frozen=True)
class Token:
    """One token as the API shows it (a prompt token under echo has no logprob)."""

    text: str
    logprob: float | None
    top: tuple[Alternative, ...] = ()

    @classmethod
    def of(cls, x: TokenEvent | PromptToken) -> Token:
        if isinstance(x, TokenEvent):
            return cls(x.text, x.logprob, x.top_raw)
        return cls(x.text, x.logprob, x.top)


@dataclass
class Reply:
    spec: Spec
    model: str
    id: str = field(default_factory=lambda: secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))
    offset: int = 0  # characters of text sent so far (completions' text_offset)
    sent_role: bool = False

    def __post_init__(self) -> None:
        self.id = ("chatcmpl-" if self.spec.kind == "chat" else "cmpl-") + self.id

    # -- pieces

    def _completion_logprobs(self, tokens: Sequence[Token]) -> dict[str, Any]:
        offsets = []
        for t in tokens:
            offsets.append(self.offset)
            self.offset += len(t.text)
        return {
            "tokens": [t.text for t in tokens],
            "token_logprobs": [None if t.logprob is None else _lp(t.logprob) for t in tokens],
            "top_logprobs": [
                None if t.logprob is None and not t.top else {a.text: _lp(a.prob, True) for a in t.top} for t in tokens
            ],
            "text_offset": offsets,
        }

    @staticmethod
    def _chat_logprobs(tokens: Sequence[Token]) -> dict[str, Any]:
        def entry(text: str, logprob: float) -> dict[str, Any]:
            return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

        return {
            "content": [
                {
                    **entry(t.text, _lp(t.logprob or 0.0)),
                    "top_logprobs": [entry(a.text, _lp(a.prob, True)) for a in t.top],
                }
                for t in tokens
            ],
            "refusal": None,
        }

    def _choice(self, tokens: Sequence[Token], finish: str | None, stream: bool) -> dict[str, Any]:
        text = "".join(t.text for t in tokens)
        want = self.spec.logprobs is not None
        if self.spec.kind == "completion":
            if not want:
                self.offset += len(text)
            lp = self._completion_logprobs(tokens) if want else None
            return {"index": 0, "text": text, "logprobs": lp, "finish_reason": finish}
        lp = self._chat_logprobs(tokens) if want else None
        if stream:
            delta: dict[str, Any] = {"content": text} if text or not self.sent_role else {}
            if not self.sent_role:
                delta = {"role": "assistant", **delta}
                self.sent_role = True
            return {"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}
        message = {"role": "assistant", "content": text, "refusal": None}
        return {"index": 0, "message": message, "logprobs": lp, "finish_reason": finish}

    def _envelope(self, stream: bool) -> dict[str, Any]:
        if self.spec.kind == "chat":
            kind = "chat.completion.chunk" if stream else "chat.completion"
        else:
            kind = "text_completion"
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def _extras(self, stats: GenStats) -> dict[str, Any]:
        warnings = []
        if stats.skipped_chars:
            warnings.append("skipped characters not in the model's vocabulary: " + " ".join(stats.skipped_chars))
        if stats.prompt_cropped:
            warnings.append("the prompt was cropped to its end: the model reads at most block_size characters")
        return {"seed": self.spec.request.seed, **({"warnings": warnings} if warnings else {})}

    @staticmethod
    def usage(stats: GenStats) -> dict[str, int]:
        return {
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.tokens,
            "total_tokens": stats.prompt_tokens + stats.tokens,
        }

    # -- what is sent

    def echo_tokens(self, prompt: Sequence[PromptToken] | None) -> list[Token]:
        """Under echo, the prompt goes first: its tokens with their logprobs, or its text as sent."""
        if not self.spec.echo:
            return []
        if prompt is not None:
            return [Token.of(p) for p in prompt]
        return [Token(self.spec.prompt, None)] if self.spec.prompt else []

    def chunk(self, tokens: Sequence[Token]) -> dict[str, Any]:
        return {**self._envelope(True), "choices": [self._choice(tokens, None, True)]}

    def last_chunk(self, tokens: Sequence[Token], stats: GenStats) -> dict[str, Any]:
        finish = FINISH_REASONS[stats.stop_reason]
        out = {**self._envelope(True), "choices": [self._choice(tokens, finish, True)], **self._extras(stats)}
        return out

    def usage_chunk(self, stats: GenStats) -> dict[str, Any]:
        return {**self._envelope(True), "choices": [], "usage": self.usage(stats)}

    def final(self, tokens: Sequence[Token], stats: GenStats) -> dict[str, Any]:
        choice = self._choice(tokens, FINISH_REASONS[stats.stop_reason], False)
        return {**self._envelope(False), "choices": [choice], "usage": self.usage(stats), **self._extras(stats)}
