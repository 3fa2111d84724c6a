"""The prompt's tokens with their log-probabilities (echo + logprobs): plain records, no torch."""

from __future__ import annotations

from dataclasses import dataclass

from ..api import Alternative


@dataclass(frozen=True)
class PromptToken:
    text: str
    logprob: float | None  # None for the first token: nothing came before it
    top: tuple[Alternative, ...] = ()


@dataclass(frozen=True)
class PromptLogprobs:
    tokens: tuple[PromptToken, ...]
