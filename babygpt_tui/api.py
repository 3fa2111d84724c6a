"""The contract between the UI and the engine: plain dataclasses, no torch, no textual.

The UI builds a `GenerationRequest`, hands it to an engine object (see `Backend`), and
receives `TokenEvent`s followed by one `GenStats`. Everything here is frozen so it can cross
threads safely: to change a setting, build a new object with `dataclasses.replace`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

# "stop": a stop string ended the reply; "stopped": cancelled (Esc, a client gone)
StopReason = Literal["length", "stop", "stopped", "error"]
ContextMode = Literal["fresh", "continue"]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling knobs. Applied in this order: repetition penalty, temperature, top-k, top-p, min-p."""

    temperature: float = 0.8  # 0 => greedy argmax
    top_k: int = 0  # 0 => off
    top_p: float = 1.0  # 1.0 => off
    min_p: float = 0.0  # 0 => off
    repetition_penalty: float = 1.0  # 1.0 => off
    repetition_window: int = 64  # how many recent tokens the penalty looks at
    max_new_tokens: int = 200

    def validate(self) -> None:
        """Raise ValueError naming the first setting that is out of range."""
        checks = [
            ("temperature", self.temperature, 0.0 <= self.temperature <= 100.0, "0 to 100"),
            ("top_k", self.top_k, self.top_k >= 0, "0 (off) or more"),
            ("top_p", self.top_p, 0.0 < self.top_p <= 1.0, "above 0 and at most 1"),
            ("min_p", self.min_p, 0.0 <= self.min_p < 1.0, "0 (off) up to below 1"),
            ("repetition_penalty", self.repetition_penalty, self.repetition_penalty > 0.0, "above 0"),
            ("repetition_window", self.repetition_window, self.repetition_window >= 0, "0 or more"),
            ("max_new_tokens", self.max_new_tokens, self.max_new_tokens >= 1, "1 or more"),
        ]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name} = {value!r} is out of range (allowed: {allowed})")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0
    context_keep: int | None = None  # tokens kept when the KV cache is full; None => block_size // 2
    top_alternatives: int = 0  # how many alternatives per token to report (0 = none)
    forced_prefix: tuple[int, ...] = ()  # token ids appended after the prompt without sampling
    stop: tuple[str, ...] = ()  # the reply ends before the first of these it would contain


@dataclass(frozen=True)
class Alternative:
    id: int
    text: str
    prob: float


@dataclass(frozen=True)
class TokenEvent:
    """One generated token."""

    id: int
    text: str
    logprob: float  # under the raw model distribution, before any warper
    position: int  # index of this token in prompt + reply
    step: int  # index among the generated tokens (0, 1, …)
    cache_len: int  # tokens in the KV cache after this token was produced
    shifted: bool  # True if the cache was shifted (context window full) for this token
    time: float  # time.perf_counter() when the token was ready
    params: SamplingParams  # the settings in force for this token (knobs can change mid-reply)
    top_raw: tuple[Alternative, ...] = ()
    top_warped: tuple[Alternative, ...] = ()
    warped_prob: float = 1.0  # probability of this token after the warpers


@dataclass(frozen=True)
class GenStats:
    tokens: int
    prompt_tokens: int
    prefill_ms: float
    decode_s: float
    decode_tokens_per_s: float
    stop_reason: StopReason
    seed: int
    shifts: int = 0
    shift_ms: float = 0.0  # time spent re-prefilling at cache shifts (inside decode_s)
    skipped_chars: tuple[str, ...] = ()
    prompt_cropped: bool = False
    error: str = ""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    n_params: int
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    device: str
    dtype: str
    sha256: str = ""
    file_size: int = 0
    threads: int = 0
    layout: str = ""  # the checkpoint layout it was loaded as: "v1" ... "v12", "nanogpt"
    layout_description: str = ""  # in words, with how it was chosen when that was a guess (v6/v7)


class ParamsHolder:
    """A thread-safe box for the current SamplingParams.

    The UI thread calls `set`; the generation thread calls `get` before every token. Params are
    frozen, so swapping the reference is the whole update (no torn reads).
    """

    def __init__(self, params: SamplingParams | None = None) -> None:
        self._params = params or SamplingParams()
        self._lock = threading.Lock()

    def get(self) -> SamplingParams:
        return self._params

    def set(self, params: SamplingParams) -> None:
        with self._lock:
            self._params = params

    __call__ = get


class Run(Protocol):
    """One generation in progress: iterate for TokenEvents; `stats` is set when it ends."""

    skipped_chars: tuple[str, ...]
    prompt_cropped: bool
    stats: GenStats | None

    def __iter__(self) -> Iterator[TokenEvent]: ...


class Backend(Protocol):
    """What the UI needs from a loaded model (implemented by `engine.generate.Generator`)."""

    info: ModelInfo

    def unknown_chars(self, text: str) -> list[str]: ...

    def stream(
        self,
        request: GenerationRequest,
        cancel: threading.Event | None = None,
        params_source: Callable[[], SamplingParams] | None = None,
    ) -> Run: ...
