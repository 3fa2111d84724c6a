"""What went wrong talking to a server, in words for a notification: one sentence that names the
server and what to do. Never a traceback: every exception a request can raise is described here."""

from __future__ import annotations

import httpx
from httpx_sse import SSEError

from ...api import API_KEY_ENV
from ...escape import escape_controls
from .wire import ServerError, WireError

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0  # a big model on a busy server can think this long before its first token


class Failure(Exception):
    """A reply (or the connection) failed; the message is for the user."""


def describe(error: BaseException, url: str, model: str | None = None) -> str:
    if isinstance(error, ServerError):
        return _status(error, url, model)
    if isinstance(error, httpx.ConnectTimeout):
        return f"The server at {url} did not answer within {CONNECT_TIMEOUT_S:.0f} s. Is the URL right?"
    if isinstance(error, httpx.ConnectError):
        return f"Cannot reach the server at {url} ({_os_reason(error)}). Is it running?"
    if isinstance(error, httpx.ReadTimeout):
        return f"The server at {url} sent nothing for {READ_TIMEOUT_S:.0f} s; the reply was given up."
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"The server at {url} closed the connection mid-reply ({_why(error)})."
    if isinstance(error, SSEError):
        return f"The server at {url} did not stream its answer ({_why(error)}); is it an OpenAI-compatible server?"
    if isinstance(error, WireError):
        return f"The server at {url} sent something that is not the OpenAI API: {error}."
    if isinstance(error, httpx.HTTPError):
        return f"Talking to the server at {url} failed ({type(error).__name__}: {_why(error)})."
    return f"{type(error).__name__}: {_why(error)}"


def _os_reason(error: BaseException) -> str:
    """The operating system's reason under httpx's words ("Connection refused"), else its own."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.errno is not None and seen.strerror:
            return escape_controls(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    return _why(error)


def _why(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return escape_controls(text[:200])


def _status(error: ServerError, url: str, model: str | None) -> str:
    said = str(error)
    if error.status == 0:
        return f"The server stopped the reply: {error.message}"
    if error.status in (401, 403):
        return (
            f"The server at {url} refused the API key ({said}). Start with --api-key KEY or set {API_KEY_ENV} "
            "to the key it was started with."
        )
    if error.status == 404 and (error.code == "model_not_found" or error.param == "model" or "model" in error.message):
        name = f" {model!r}" if model else ""
        return (
            f"The server has no model{name} ({said}). Choose one with --remote-model NAME "
            f"(GET {url}/v1/models lists them)."
        )
    if error.status == 404:
        return f"The server at {url} has no /v1/completions ({said}): is the URL that of an OpenAI-compatible server?"
    if error.status == 429:
        return f"The server is busy ({said}). Try again in a moment (Ctrl+R regenerates the reply)."
    if error.status == 503:
        return f"The server is not ready ({said}). Try again once it has loaded its model."
    if error.status == 413:
        return f"The prompt is too long for this server ({said})."
    return f"The server answered {said}"
