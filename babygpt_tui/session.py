"""Sessions: what a person chatted, with everything needed to reproduce each turn. No torch.

(Data model only so far; atomic save/load, listing and export are issue #6.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .api import ContextMode, SamplingParams, StopReason

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModelRef:
    """Which model produced a turn: file name plus a sha256 prefix of the checkpoint file."""

    name: str
    sha256: str = ""

    @property
    def short(self) -> str:
        return f"{self.name}@{self.sha256[:12]}" if self.sha256 else self.name


@dataclass
class Turn:
    prompt: str
    reply: str = ""
    stop_reason: StopReason | None = None  # None while generating
    params: SamplingParams = field(default_factory=SamplingParams)  # the settings at the start
    seed: int = 0  # the seed actually used
    context_mode: ContextMode = "fresh"
    model: ModelRef = field(default_factory=lambda: ModelRef(""))
    tokens: int = 0
    decode_tokens_per_s: float = 0.0
    prefill_ms: float = 0.0
    started_at: str = ""  # ISO 8601, UTC
    finished_at: str = ""
    error: str = ""
    # Per generated token (#8): [probability, [[text, prob], …] raw top-k, [[text, prob], …] warped].
    token_info: list = field(default_factory=list)


@dataclass
class Session:
    name: str
    turns: list[Turn] = field(default_factory=list)
    params: SamplingParams = field(default_factory=SamplingParams)  # current sidebar settings
    seed_mode: str = "random"  # "random" or "fixed"
    fixed_seed: int = 0
    context_mode: ContextMode = "fresh"
    created_at: str = ""
    updated_at: str = ""
    schema_version: int = SCHEMA_VERSION
