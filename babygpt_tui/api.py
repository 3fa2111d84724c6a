"""The contract between the UI and the engine: plain dataclasses, no torch, no textual.

In-process (headless commands): build a `GenerationRequest`, hand it to a `Backend`
(`engine.generate.Generator`), iterate `TokenEvent`s, read one `GenStats`.

Across processes (the TUI and its engine child, `engine/server.py`): the request and event
messages at the end of this file, one JSON object per line, converted by `to_wire` / `from_wire`
beside them. Everything is frozen so it can cross threads safely: to change a setting, build a
new object with `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Protocol, Union, get_args, get_origin, get_type_hints

from . import explanation, token_record
from .explanation import Explanation, ExplanationFormatError, StepStages
from .token_record import TokenRecord

# "stop": a stop string ended the reply; "stopped": cancelled (Esc, a client gone)
StopReason = Literal["length", "stop", "stopped", "error"]
ContextMode = Literal["fresh", "continue"]
TOP_ALTERNATIVES = 10  # alternatives per token the TUI asks for (heat-map and inspector), and the bench measures
# A blank line ends a poem in the Song-ci corpus (and the original BabyGPT ci.txt): an empty prompt
# starts after one (so the model writes a `词牌 作者` title first), and "one poem per reply" stops at one.
POEM_BOUNDARY = "\n\n"
API_KEY_ENV = "BABYGPT_TUI_API_KEY"  # the key `serve` requires and the TUI sends to --server, if no flag gives one


def random_seed() -> int:
    """A fresh seed for a reply that has none fixed (always reported, so it can be reproduced)."""
    return secrets.randbelow(2**31)


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


# SamplingParams field -> the OpenAI request field that carries it (`serve` reads these, the TUI's
# remote client sends them). repetition_window has none: a server uses its own.
REQUEST_FIELDS = {
    "max_new_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repetition_penalty",
}


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
    server: str = ""  # the URL of the OpenAI-compatible server it runs on; "" when it runs here


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


# ----- the engine protocol (see engine/server.py for the conversation) ---------------------------

PROTOCOL_VERSION = 2  # 2: explain, watch, and a watched reply's sampler stages in its batches
ParamsSchedule = tuple[tuple[int, SamplingParams], ...]  # (step, the knobs from that step on)


class ProtocolError(Exception):
    """A line that is not a message of this protocol: a bug on the other side, never a user's."""


@dataclass(frozen=True)
class Load:
    """Load a model (replacing any loaded one); answered by `Loaded` or `EngineFailed`."""

    model: str  # "" => the bundled model
    vocab_from: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0  # 0 => the engine's choice
    compile: bool = False  # torch.compile the decode step (engine/compile.py); a "status" Log says so


@dataclass(frozen=True)
class Generate:
    """Generate a reply: `Started`, `TokenBatch`es (each acknowledged with `Ack`), one `Finished`."""

    turn: int  # echoed in every event of this reply
    request: GenerationRequest
    schedule: ParamsSchedule = ()  # a replay's knobs at each step; () => the live knobs (`SetParams`)


@dataclass(frozen=True)
class SetParams:
    """New knobs, read before the next token of the running reply (and the next reply's start)."""

    params: SamplingParams


@dataclass(frozen=True)
class Cancel:
    turn: int


@dataclass(frozen=True)
class Ack:
    """The UI has drawn the last batch of `turn`: the engine may send the next one."""

    turn: int


@dataclass(frozen=True)
class Explain:
    """Why the model wrote a character: one forward over the window it saw (with attention) and
    the sampler's stages; answered by `Explained`. A newer Explain makes older unanswered ones moot
    (they are dropped), so a cursor held down never queues forwards."""

    id: int  # echoed in the answer
    context: str  # the text the model had before the character: the prompt as sent, the reply so far
    char: str = ""  # the character explained (its probability at every stage); "" => what comes next
    window: int = 0  # characters the model saw (TokenRecord.window); 0 => unknown: the default window
    params: SamplingParams = field(default_factory=SamplingParams)
    top: int = 10  # candidates per stage
    seed: int = 0  # of the draw stage's pick


@dataclass(frozen=True)
class Watch:
    """While `pipeline` is on, a running reply's batches carry the sampler's stages of its latest
    step, computed at most every ~0.1 s (the TUI's pipeline view is open)."""

    pipeline: bool
    top: int = 10


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class Hello:
    """The engine's first line."""

    protocol: int
    pid: int


@dataclass(frozen=True)
class Loaded:
    info: ModelInfo
    seconds: float


@dataclass(frozen=True)
class Started:
    """The prompt was read: what the engine skipped or cropped, before the first token."""

    turn: int
    skipped_chars: tuple[str, ...] = ()
    prompt_cropped: bool = False


@dataclass(frozen=True)
class TokenBatch:
    """Tokens of a reply, every ~30 ms (bigger while the UI has not acknowledged the last one)."""

    turn: int
    text: str  # the new text (one character per token)
    records: Sequence[TokenRecord]  # per token (a tuple, or the engine's Columns); empty: none asked for
    params_changes: ParamsSchedule  # (step, knobs) where the knobs changed (always at step 0)
    tokens: int  # tokens generated so far in this reply
    rate: float  # decode tokens/s over the last half second
    sample: float | None  # a new point for the rate sparkline (about 4 per second), or None
    cache_len: int  # tokens in the KV cache after the last token of the batch
    shifted: bool  # the context window was shifted during this batch
    prefill_ms: float  # time to the first token (the exact prefill comes with the stats)
    pipeline: StepStages | None = None  # the latest step's sampler stages, while watched (`Watch`)


@dataclass(frozen=True)
class Finished:
    """The reply ended: `stats` when the engine produced them, `error` if it raised."""

    turn: int
    stats: GenStats | None
    error: str = ""


@dataclass(frozen=True)
class EngineFailed:
    """A request failed outside a reply (loading, mostly). `user_error`: the user can fix it."""

    op: str
    message: str
    user_error: bool


@dataclass(frozen=True)
class Log:
    level: Literal["info", "warning", "status"]  # status: what the engine is busy with (the UI's subtitle)
    message: str


@dataclass(frozen=True)
class Explained:
    """The answer to `Explain` `id`: the explanation, or why there is none (`error`)."""

    id: int
    explanation: Explanation | None
    error: str = ""


Request = Load | Generate | SetParams | Cancel | Ack | Shutdown | Explain | Watch
Event = Hello | Loaded | Started | TokenBatch | Finished | EngineFailed | Log | Explained
MESSAGES: dict[str, type] = {
    "load": Load,
    "generate": Generate,
    "params": SetParams,
    "cancel": Cancel,
    "ack": Ack,
    "shutdown": Shutdown,
    "hello": Hello,
    "loaded": Loaded,
    "started": Started,
    "tokens": TokenBatch,
    "finished": Finished,
    "error": EngineFailed,
    "log": Log,
    "explain": Explain,
    "watch": Watch,
    "explained": Explained,
}
_NAMES = {cls: name for name, cls in MESSAGES.items()}
_RECORDS = Sequence[TokenRecord]


# Types with a wire form of their own (compact, rounded: the one `explain --json` prints too)
_CODECS: dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    Explanation: (explanation.to_wire, explanation.from_wire),
    StepStages: (explanation.step_to_wire, explanation.step_from_wire),
}


def _plain(value: Any) -> Any:
    records = isinstance(value, tuple) and value and isinstance(value[0], TokenRecord)
    if records or isinstance(value, token_record.Columns):  # Columns: the engine's, already columnar
        return token_record.encode(value)
    if (codec := _CODECS.get(type(value))) is not None:
        return codec[0](value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def to_wire(message: Request | Event) -> str:
    """One line of JSON (ASCII, so no text can break the framing), newline included."""
    return json.dumps({"type": _NAMES[type(message)], **_plain(message)}, separators=(",", ":")) + "\n"


def from_wire(line: str | bytes) -> Request | Event:
    """The message on one line; ProtocolError if it is not one."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(data, dict) or data.get("type") not in MESSAGES:
        raise ProtocolError(f"not a message: {str(line)[:80]!r}")
    message: Request | Event = _build(MESSAGES[data["type"]], data, data["type"])
    return message


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected an object")
    given = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            given[f.name] = _value(_hints(cls)[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ProtocolError(f"{where}.{f.name}: missing")
    return cls(**given)


def _value(tp: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp == _RECORDS:
        decoded = token_record.decode(value) if value != [] else token_record.Decoded([], 0)
        if decoded.dropped:
            raise ProtocolError(f"{where}: {decoded.problem}")
        return tuple(decoded.records)
    if (codec := _CODECS.get(tp)) is not None:
        try:
            return codec[1](value)
        except ExplanationFormatError as e:
            raise ProtocolError(f"{where}: {e}") from None
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, where)
    if origin is Literal:
        if value not in args:
            raise ProtocolError(f"{where}: {value!r} is not one of {args}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise ProtocolError(f"{where}: expected {len(args)} items")
        return tuple(_value(a, v, where) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)  # type: ignore[arg-type]
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
        return value
    raise ProtocolError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {type(value).__name__}")
