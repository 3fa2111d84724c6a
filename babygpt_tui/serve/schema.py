"""Request bodies of /v1/completions and /v1/chat/completions, checked field by field.

Pydantic checks types (strictly: "0.5" is not a number); the engine's own `SamplingParams.validate`
checks ranges, so the server allows exactly what `generate` and the TUI allow. Every problem is a
400 naming the field. A field the request leaves out takes the server's default (its flags and
config.toml, as for `generate`). Unknown fields are ignored, as OpenAI clients send extras (`user`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..api import REQUEST_FIELDS, GenerationRequest, SamplingParams
from ..config import SEED_MAX
from .errors import APIError, bad_field

MAX_LOGPROBS = 20  # alternatives per token (OpenAI allows 5 for completions, 20 for chat)
MAX_STOPS, MAX_STOP_CHARS = 8, 64  # each token is checked against every end of every stop string
# What `serve --refuse-field` can refuse: the fields a client may leave out and still be served.
REFUSABLE = (*REQUEST_FIELDS.values(), "seed", "stop", "logprobs", "top_logprobs")

KNOBS = {request: name for name, request in REQUEST_FIELDS.items()}  # request field -> SamplingParams field


@dataclass(frozen=True)
class Defaults:
    """What a request gets for a field it leaves out (the server's flags > config > built-ins)."""

    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int | None = None  # None: a fresh random seed per request (it is returned as `seed`)
    stop: tuple[str, ...] = ()
    context_keep: int | None = None
    max_prompt_chars: int = 65_536  # longer prompts get 413; the model reads block_size of them
    refused: tuple[str, ...] = ()  # request fields answered with 400 when set (`serve --refuse-field`)


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


B = TypeVar("B", bound=_Body)


class StreamOptions(_Body):
    include_usage: bool = False


class _Common(_Body):
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    # accepted only at their neutral value: the engine has no such thing
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None


class CompletionBody(_Common):
    prompt: str | list[str] = ""
    logprobs: int | None = None
    echo: bool | None = False
    best_of: int | None = None
    suffix: str | None = None


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: str
    content: str | list[ContentPart] | None = None


class ChatBody(_Common):
    messages: list[ChatMessage]
    max_completion_tokens: int | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = None


@dataclass(frozen=True)
class Spec:
    """One checked request: what to generate and how to answer."""

    kind: Literal["completion", "chat"]
    request: GenerationRequest
    prompt: str  # the text as sent (echo returns it)
    stream: bool = False
    include_usage: bool = False
    logprobs: int | None = None  # None: no logprobs; N: the N likeliest alternatives per token
    echo: bool = False


# Pydantic reports a union by its first member ("should be a valid string"): say what is allowed.
UNION_HINTS = {
    "stop": "should be a string or a list of strings",
    "prompt": "should be a string (a list of one string also works; token ids do not)",
}


def parse_body(model: type[B], raw: bytes) -> B:
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise _from_pydantic(e) from None


def _from_pydantic(e: ValidationError) -> APIError:
    err = e.errors(include_url=False)[0]
    loc, kind, msg = err["loc"], err["type"], err["msg"]
    if kind == "json_invalid":
        return APIError(400, f"the request body is not valid JSON ({err['ctx'].get('error', msg)})")
    if not loc:
        return APIError(400, "the request body must be a JSON object")
    param, union = str(loc[0]), False
    for part in loc[1:]:
        if isinstance(part, int):
            param += f"[{part}]"
        elif part in ChatMessage.model_fields or part in ContentPart.model_fields or part in StreamOptions.model_fields:
            param += f".{part}"
        else:
            union = True  # the part names a member of a union ("str", "list[str]"), not a field
    if kind == "missing":
        return bad_field(param, "this field is required")
    if union and param in UNION_HINTS:
        return bad_field(param, UNION_HINTS[param])
    return bad_field(param, f"{msg[0].lower()}{msg[1:]}")


def _neutral(body: _Common | CompletionBody) -> None:
    """Refuse fields the engine cannot honour, rather than silently ignore them."""
    if body.n not in (None, 1):
        raise bad_field("n", f"{body.n} completions per request are not supported; send 1 (or leave it out)")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(body, name) not in (None, 0, 0.0):
            raise bad_field(name, "not supported; use repetition_penalty (above 1 makes repeats less likely)")
    if body.logit_bias:
        raise bad_field("logit_bias", "not supported")
    if isinstance(body, CompletionBody):
        if body.best_of not in (None, 1):
            raise bad_field("best_of", "only 1 is supported")
        if body.suffix:
            raise bad_field("suffix", "not supported (a character model only continues text)")


def _params(body: _Common, defaults: SamplingParams, max_tokens: int | None) -> SamplingParams:
    values = {KNOBS[k]: getattr(body, k) for k in KNOBS if k != "max_tokens" and getattr(body, k) is not None}
    if max_tokens is not None:
        values["max_new_tokens"] = max_tokens
    for name, engine_name in KNOBS.items():
        if engine_name in values:
            try:  # each field alone, so the error names the field that was sent
                replace(SamplingParams(), **{engine_name: values[engine_name]}).validate()
            except ValueError as e:
                allowed = re.search(r"\(allowed: (.*)\)$", str(e))
                shown = values[engine_name]
                raise bad_field(name, f"{shown!r} is out of range ({allowed.group(1) if allowed else e})") from None
    return replace(defaults, **values)


def _stops(stop: str | list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if stop is None:
        return default
    stops = [stop] if isinstance(stop, str) else stop
    if len(stops) > MAX_STOPS:
        raise bad_field("stop", f"at most {MAX_STOPS} stop strings, got {len(stops)}")
    for s in stops:
        if not s or len(s) > MAX_STOP_CHARS:
            raise bad_field("stop", f"each stop string must have 1 to {MAX_STOP_CHARS} characters")
    return tuple(stops)


def _seed(seed: int | None, default: int | None) -> int:
    if seed is None:
        return default if default is not None else random.randrange(2**31)
    if not 0 <= seed <= SEED_MAX:
        raise bad_field("seed", f"{seed} is out of range (allowed: 0 to {SEED_MAX})")
    return seed


def _top(n: int | None, param: str) -> int | None:
    if n is not None and not 0 <= n <= MAX_LOGPROBS:
        raise bad_field(param, f"{n} is out of range (allowed: 0 to {MAX_LOGPROBS})")
    return n


def _build(
    kind: Literal["completion", "chat"],
    body: _Common,
    prompt: str,
    defaults: Defaults,
    max_tokens: int | None,
    logprobs: int | None,
    echo: bool = False,
) -> Spec:
    _neutral(body)
    for name in defaults.refused:
        if getattr(body, name, None) is not None:
            raise bad_field(name, "not taken by this server (--refuse-field); leave it out")
    if len(prompt) > defaults.max_prompt_chars:
        raise APIError(
            413,
            f"the prompt has {len(prompt):,} characters; this server takes at most {defaults.max_prompt_chars:,} "
            "(the model reads only its last block_size characters anyway)",
            param="messages" if kind == "chat" else "prompt",
            code="prompt_too_long",
        )
    request = GenerationRequest(
        prompt=prompt,
        params=_params(body, defaults.params, max_tokens),
        seed=_seed(body.seed, defaults.seed),
        context_keep=defaults.context_keep,
        top_alternatives=logprobs or 0,
        stop=_stops(body.stop, defaults.stop),
    )
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return Spec(kind, request, prompt, bool(body.stream), include_usage, logprobs, echo)


def completion_spec(body: CompletionBody, defaults: Defaults) -> Spec:
    if isinstance(body.prompt, list):
        if len(body.prompt) != 1:
            raise bad_field("prompt", f"one prompt per request is supported, got a list of {len(body.prompt)}")
        prompt = body.prompt[0]
    else:
        prompt = body.prompt
    logprobs = _top(body.logprobs, "logprobs")
    return _build("completion", body, prompt, defaults, body.max_tokens, logprobs, bool(body.echo))


def chat_prompt(messages: list[ChatMessage]) -> str:
    """The messages' texts joined as one transcript, in order and with nothing added: a character
    model has never seen role names, so the prompt is what the TUI's continue mode sends."""
    parts = []
    for i, m in enumerate(messages):
        if isinstance(m.content, list):
            for j, part in enumerate(m.content):
                if part.type != "text" or part.text is None:
                    raise bad_field(f"messages[{i}].content[{j}]", f"only text parts are supported, got {part.type!r}")
                parts.append(part.text)
        elif m.content is not None:
            parts.append(m.content)
    return "".join(parts)


def chat_spec(body: ChatBody, defaults: Defaults) -> Spec:
    if not body.messages:
        raise bad_field("messages", "at least one message is required")
    if body.max_tokens is not None and body.max_completion_tokens is not None:
        raise bad_field("max_completion_tokens", "send max_tokens or max_completion_tokens, not both")
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    top = _top(body.top_logprobs, "top_logprobs")
    if top and not body.logprobs:
        raise bad_field("top_logprobs", "needs logprobs: true")
    logprobs = (top or 0) if body.logprobs else None
    try:
        return _build("chat", body, chat_prompt(body.messages), defaults, max_tokens, logprobs)
    except APIError as e:
        if e.param == "max_tokens" and param != "max_tokens":  # name the field that was sent
            e.param, e.message = param, e.message.replace("max_tokens", param, 1)
        raise


def model_ids(name: str) -> tuple[str, ...]:
    """The names a request may give for the served model: its id and its file name."""
    stem = name.rsplit(".", 1)[0] if name.endswith((".safetensors", ".pth", ".pt")) else name
    return (stem, name)


def check_model(requested: str | None, name: str) -> None:
    if requested is not None and requested not in model_ids(name):
        raise APIError(
            404,
            f"model {requested!r} is not served here; this server has {model_ids(name)[0]!r} (see GET /v1/models)",
            param="model",
            code="model_not_found",
        )
