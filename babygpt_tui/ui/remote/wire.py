"""The OpenAI completions API as plain data: the request body the TUI sends, and what comes back
(stream chunks, the model list, errors) parsed into small typed records. No HTTP, no textual.

Servers differ in the details, so the readers take every shape known to be sent:
- logprobs in the legacy completions shape (`tokens`, `token_logprobs`, `top_logprobs` as
  {text: logprob}) — OpenAI, vLLM, `babygpt-tui serve` — or in the chat shape (`content`: a list
  of {token, logprob, top_logprobs: [{token, logprob}]}) — llama.cpp's server;
- the model list's context length as `context_length` (serve), `max_model_len` (vLLM) or
  `meta.n_ctx_train` (llama.cpp); Ollama gives none;
- errors as {"error": {"message", "param", "code"}}, {"error": "text"}, {"detail": ...} or text.

Every reader raises `WireError` (never anything else) for what is not one of these, and every
string from a server that reaches a notification goes through `escape_controls` first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...api import REQUEST_FIELDS, SamplingParams
from ...escape import escape_controls

MESSAGE_CHARS = 300  # a server's message is cut to this (an HTML error page is not a message)
# The fields a request can do without: a server that refuses one is asked again without it.
OPTIONAL_FIELDS = (
    *(f for k, f in REQUEST_FIELDS.items() if k != "max_new_tokens"),
    "seed",
    "stop",
    "logprobs",
    "stream_options",  # only asks for the token count at the end
)
KNOB_OF = {request: name for name, request in REQUEST_FIELDS.items()}  # request field -> SamplingParams field


class WireError(Exception):
    """What a server sent is not what the OpenAI API says (the message says what was wrong)."""


@dataclass  # not frozen: raising an exception sets its __traceback__
class ServerError(Exception):
    """An error answer: its HTTP status (0: sent inside a stream) and what the server said."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.status else self.message


@dataclass(frozen=True)
class Token:
    """One streamed token: its text, logprob (None: not given) and top alternatives."""

    text: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()  # (text, logprob), likeliest first


@dataclass(frozen=True)
class Chunk:
    text: str
    tokens: tuple[Token, ...] | None  # None: no logprobs in this chunk
    finish_reason: str | None = None
    completion_tokens: int | None = None  # from `usage`, when the chunk has it
    prompt_tokens: int | None = None
    warnings: tuple[str, ...] = ()  # `serve`'s extension: skipped characters, a cropped prompt
    error: ServerError | None = None  # an error event inside the stream


@dataclass(frozen=True)
class ServedModel:
    id: str
    context_length: int = 0  # 0: not told
    vocab_size: int = 0
    n_params: int = 0


def completion_body(
    prompt: str,
    params: SamplingParams,
    seed: int,
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    logprobs: int = 0,
    stop: tuple[str, ...] = (),
    refused: Iterable[str] = (),
) -> dict[str, Any]:
    """A streamed /v1/completions request for `prompt` with the sidebar's knobs, without the
    fields the server refused. Every knob is sent, off ones too (top_k 0): left out, the server's
    own default would apply, which is not what the slider shows."""
    body: dict[str, Any] = {"prompt": prompt, "stream": True, "stream_options": {"include_usage": True}}
    if model:
        body["model"] = model
    for name, field in REQUEST_FIELDS.items():
        body[field] = getattr(params, name)
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body["seed"] = seed
    if logprobs:
        body["logprobs"] = logprobs
    if stop:
        body["stop"] = list(stop)
    for field in refused:
        body.pop(field, None)
    return body


def refused_field(error: ServerError, sent: Iterable[str]) -> str | None:
    """The optional field a 400 refuses: the one it names as `param`, else the only one its
    message names (OpenAI: "Unrecognized request argument supplied: top_k")."""
    if error.status not in (400, 422):
        return None
    optional = [f for f in sent if f in OPTIONAL_FIELDS]
    if error.param in optional:
        return error.param
    named = [f for f in optional if re.search(rf"(?<![\w.]){re.escape(f)}(?!\w)", error.message)]
    return named[0] if len(named) == 1 else None


def error_of(status: int, raw: bytes | str) -> ServerError:
    """The error an HTTP answer carries; never raises (a page of HTML becomes its first words)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and (found := _error_in(data, status)) is not None:
        return found
    words = " ".join(text.split())
    return ServerError(status, _message(words) or f"HTTP {status} with no message")


def _error_in(data: Mapping[str, Any], status: int) -> ServerError | None:
    err = data.get("error", data.get("detail"))
    if isinstance(err, dict):
        message = err.get("message", err.get("msg", ""))
        param, code = err.get("param"), err.get("code")
        return ServerError(
            status,
            _message(message if isinstance(message, str) else json.dumps(message)) or "no message",
            param if isinstance(param, str) else None,
            str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
        )
    if isinstance(err, str):
        return ServerError(status, _message(err) or "no message")
    if isinstance(err, list) and err:  # FastAPI's validation errors: [{"loc", "msg"}, ...]
        return ServerError(
            status, _message("; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in err))
        )
    return None


def _message(text: str) -> str:
    text = escape_controls(text.strip())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _logprob(v: Any) -> float:
    """A log-probability: a number up to 0 (a hair above is rounding), -inf for p = 0."""
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v > 1e-3:
        raise WireError(f"expected a log-probability (a number up to 0), got {_shown(v)}")
    return min(float(v), 0.0)


def _shown(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, float) else repr(v)
    return escape_controls(text if len(text) <= 40 else text[:39] + "…")


def _legacy_tokens(lp: Mapping[str, Any]) -> tuple[Token, ...]:
    texts, lps, tops = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise WireError("logprobs.tokens is not a list of strings")
    lps = lps if isinstance(lps, list) else [None] * len(texts)
    tops = tops if isinstance(tops, list) else [None] * len(texts)
    if len(lps) != len(texts) or len(tops) != len(texts):
        raise WireError("logprobs lists of different lengths")
    out = []
    for text, logprob, top in zip(texts, lps, tops, strict=True):
        if top is not None and not isinstance(top, dict):
            raise WireError("logprobs.top_logprobs holds something other than {token: logprob}")
        alts = tuple((str(k), _logprob(v)) for k, v in (top or {}).items())
        out.append(Token(text, None if logprob is None else _logprob(logprob), _likeliest(alts)))
    return tuple(out)


def _chat_tokens(content: list[Any]) -> tuple[Token, ...]:
    out = []
    for entry in content:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise WireError("logprobs.content holds something other than {token, logprob}")
        top = entry.get("top_logprobs") or []
        if not isinstance(top, list):
            raise WireError("logprobs.content[].top_logprobs is not a list")
        alts = []
        for alt in top:
            if not isinstance(alt, dict) or not isinstance(alt.get("token"), str):
                raise WireError("a top_logprobs entry is not {token, logprob}")
            alts.append((alt["token"], _logprob(alt.get("logprob"))))
        logprob = entry.get("logprob")
        out.append(Token(entry["token"], None if logprob is None else _logprob(logprob), _likeliest(tuple(alts))))
    return tuple(out)


def _likeliest(alts: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(alts, key=lambda a: -a[1]))


def parse_chunk(data: str) -> Chunk:
    """One `data:` line of a completions stream (not `[DONE]`)."""
    try:
        obj: Any = json.loads(data)
    except (ValueError, RecursionError):
        raise WireError(f"a stream event that is not JSON: {_shown(data)}") from None
    if not isinstance(obj, dict):
        raise WireError(f"a stream event that is not an object: {_shown(obj)}")
    if "error" in obj and (err := _error_in(obj, 0)) is not None:
        return Chunk("", None, error=err)
    choices = obj.get("choices", [])
    if not isinstance(choices, list):
        raise WireError("`choices` is not a list")
    usage = obj.get("usage")
    chunk = Chunk(
        "",
        None,
        completion_tokens=_usage(usage, "completion_tokens"),
        prompt_tokens=_usage(usage, "prompt_tokens"),
        warnings=_warnings(obj.get("warnings")),
    )
    if not choices:
        return chunk  # the usage chunk
    choice = choices[0]
    if not isinstance(choice, dict):
        raise WireError("a choice that is not an object")
    text = choice.get("text", "")
    if not isinstance(text, str):
        raise WireError(f"choices[0].text is {_shown(text)}, not a string")
    finish = choice.get("finish_reason")
    lp = choice.get("logprobs")
    tokens: tuple[Token, ...] | None = None
    if isinstance(lp, dict) and isinstance(lp.get("content"), list):
        tokens = _chat_tokens(lp["content"])
    elif isinstance(lp, dict) and "tokens" in lp:
        tokens = _legacy_tokens(lp)
    elif lp is not None and lp != {}:
        raise WireError(f"choices[0].logprobs is {_shown(lp)}")
    return replace(chunk, text=text, tokens=tokens, finish_reason=finish if isinstance(finish, str) else None)


def _usage(v: Any, key: str) -> int | None:
    if isinstance(v, dict) and isinstance(n := v.get(key), int) and not isinstance(n, bool) and n >= 0:
        return n
    return None


def _warnings(v: Any) -> tuple[str, ...]:
    return tuple(_message(w) for w in v if isinstance(w, str)) if isinstance(v, list) else ()


def parse_models(raw: bytes | str) -> list[ServedModel]:
    """GET /v1/models: the models a server lists, in its order."""
    try:
        obj: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise WireError("the model list is not JSON") from None
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list):
        raise WireError("the model list has no `data` list")
    models = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        meta: dict[str, Any] = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
        models.append(
            ServedModel(
                entry["id"],
                _count(entry.get("context_length"), entry.get("max_model_len"), meta.get("n_ctx_train")),
                _count(entry.get("vocab_size"), meta.get("n_vocab")),
                _count(entry.get("n_params"), meta.get("n_params")),
            )
        )
    return models


def _count(*candidates: Any) -> int:
    """The first candidate that is a whole number of 1 or more, else 0 (not told)."""
    for v in candidates:
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return 0
