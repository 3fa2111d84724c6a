"""The TUI on a remote engine: `babygpt-tui --server URL` chats with a model on any
OpenAI-compatible completions server (`babygpt-tui serve`, llama.cpp's llama-server, vLLM, Ollama).

`RemoteClient` gives the app the interface of the engine client (`backend.ChatBackend`): it takes
the engine protocol's requests and posts the same messages back, so the lifecycle, the sessions
and the widgets work unchanged. It runs on the app's event loop (httpx's async client): nothing
blocks the screen, and cancelling a task closes its connection, which stops the server's work.

- start: GET /v1/models until the server answers (unreachable: said once, tried again every
  CONNECT_RETRY_S; 503 while it loads: waited for) → ModelLoaded; a refused key → ModelLoadFailed.
- Generate → a `reply.RemoteReply` (streamed segments, live knobs, Esc; see there).
- What the server turns out not to do — a knob it refuses, logprobs it does not send — is kept for
  this server (asked once) and posted as `CapabilitiesChanged`; the sidebar greys the knob out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Literal

import httpx
from textual.message import Message

from ...api import Ack, Cancel, Generate, Load, Log, ModelInfo, Request, SamplingParams, SetParams, Shutdown
from ...escape import escape_controls
from ..backend import NO_PROBABILITIES, NOT_FROM_SERVER, Capabilities
from ..messages import CapabilitiesChanged, EngineLog, ModelLoaded, ModelLoadFailed, ServerNotice
from .failures import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, describe
from .reply import RemoteReply
from .wire import KNOB_OF, ServedModel, WireError, error_of, parse_models

Severity = Literal["information", "warning", "error"]
CONNECT_RETRY_S = 2.0
LOADING_RETRY_S = 0.5
FIRST_LONG_ID = 0x110000  # ids of tokens longer than one character start past Unicode's code points


@dataclass(frozen=True)
class ServerOptions:
    url: str  # the base URL, normalised (config.server_url): requests go to URL/v1/...
    api_key: str | None = None
    model: str | None = None  # None: the first model the server lists


class TokenIds:
    """Ids for a server's tokens (it sends their texts): a character is its code point; a longer
    token gets a number past Unicode, the same one for the same text in this run."""

    def __init__(self) -> None:
        self._long: dict[str, int] = {}

    def of(self, text: str) -> int:
        if len(text) == 1:
            return ord(text)
        return self._long.setdefault(text, FIRST_LONG_ID + len(self._long))


class RemoteClient:
    pid = 0

    def __init__(self, options: ServerOptions, post: Callable[[Message], object]) -> None:
        self.options, self.post = options, post
        self.url = options.url
        self.capabilities = Capabilities(server=options.url, branch=False, explain=False)
        self.model_name = options.model  # what requests ask for (None: the server's default)
        self.block_size = 0  # the model's context length, when the server tells it
        self.params = SamplingParams()
        self.http: httpx.AsyncClient | None = None
        self.ids = TokenIds()
        self.reply: RemoteReply | None = None
        self.refused_fields: set[str] = set()  # request fields this server refused: never sent again
        self._connecting: asyncio.Task[None] | None = None
        self._said: set[str] = set()

    @property
    def running(self) -> bool:
        return self.http is not None

    def start(self) -> None:
        if self.http is not None:
            return
        key = self.options.api_key
        self.http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )
        self._connecting = asyncio.get_running_loop().create_task(self._connect_or_fail(self.http), name="connect")

    async def _connect_or_fail(self, http: httpx.AsyncClient) -> None:
        try:
            await self._connect(http)
        except Exception as e:  # a bug: shown like a model that cannot be loaded, never a hang
            self.post(ModelLoadFailed(self.url, f"{type(e).__name__}: {e}", user_error=False))

    async def _connect(self, http: httpx.AsyncClient) -> None:
        start, said = time.perf_counter(), ""
        while True:
            try:
                response = await http.get(self.url + "/v1/models")
            except httpx.HTTPError as e:
                if (why := describe(e, self.url)) != said:
                    said = why
                    self.notice(f"{why} Trying again every {CONNECT_RETRY_S:.0f} s; a prompt waits for it.", "error")
                await asyncio.sleep(CONNECT_RETRY_S)
                continue
            if response.status_code == 200:
                try:
                    models = parse_models(response.content)
                except WireError as e:
                    self.notice(f"The server's model list is not readable ({e}); asking for {self._asked()}.")
                    models = []
                break
            error = error_of(response.status_code, response.content)
            if error.status == 503:
                if not said.startswith("503"):
                    said = "503"
                    self.notice(f"The server at {self.url} is loading its model ({error}); a prompt waits for it.")
                await asyncio.sleep(LOADING_RETRY_S)
                continue
            if error.status in (401, 403):
                self.post(ModelLoadFailed(self.url, describe(error, self.url), user_error=True))
                return
            if error.status != 404:  # 404: no list (some servers have none); requests name the model
                self.notice(f"The server at {self.url} gave no model list ({error}); asking for {self._asked()}.")
            models = []
            break
        self.post(ModelLoaded(self._info(models), time.perf_counter() - start))

    def _asked(self) -> str:
        return repr(self.model_name) if self.model_name else "its default model"

    def _info(self, models: list[ServedModel]) -> ModelInfo:
        wanted = self.options.model
        chosen = next((m for m in models if m.id == wanted), None) if wanted else (models[0] if models else None)
        listed = ", ".join(escape_controls(m.id) for m in models[:6]) + (" …" if len(models) > 6 else "")
        if wanted and chosen is None and models:
            self.notice(f"The server lists {listed}, not {wanted!r}; asking for {wanted!r} anyway.")
        elif not wanted and len(models) > 1 and chosen is not None:
            self.notice(
                f"The server has {listed}; chatting with {chosen.id!r} (--remote-model chooses).", "information"
            )
        name = wanted or (chosen.id if chosen else "")
        self.model_name = name or None
        self.block_size = chosen.context_length if chosen else 0
        return ModelInfo(
            name=escape_controls(name) or "the server's model",
            path=self.url,
            n_params=chosen.n_params if chosen else 0,
            vocab_size=chosen.vocab_size if chosen else 0,
            block_size=self.block_size,
            n_layer=0,
            n_head=0,
            n_embd=0,
            device="server",
            dtype="",
            server=self.url,
        )

    # ----- the engine protocol's requests -------------------------------------------------------
    def send(self, request: Request | object) -> None:
        """A request of the engine protocol; one a server cannot answer (a request type added for the
        engine, like an explanation of the model's internals) is answered "not available"."""
        if isinstance(request, Generate):
            if self.reply is not None:
                self.reply.stop()
            self.reply = RemoteReply(self, request)
        elif isinstance(request, SetParams):
            self.params = request.params
            if self.reply is not None:
                self.reply.set_params(request.params)
        elif isinstance(request, Cancel):
            if self.reply is not None and self.reply.turn == request.turn:
                self.reply.stop()
        elif isinstance(request, Ack):
            self.ack(request.turn)
        elif isinstance(request, Shutdown):
            self.close()
        elif not isinstance(request, Load):  # nothing to load: the server has its model
            self.post(EngineLog(Log("warning", f"{type(request).__name__}: {NOT_FROM_SERVER}")))

    def ack(self, turn: int) -> None:
        if self.reply is not None and self.reply.turn == turn:
            self.reply.ack()

    def close(self) -> None:
        http, self.http = self.http, None
        for task in (self._connecting, self.reply.task if self.reply else None):
            if task is not None:
                task.cancel()  # a stream's connection closes with its task
        self.reply = None
        if http is not None:
            with suppress(RuntimeError):  # no loop any more: the process is ending, its sockets with it
                asyncio.get_running_loop().create_task(http.aclose())

    # ----- what replies tell the client ----------------------------------------------------------
    def reply_ended(self, reply: RemoteReply) -> None:
        if self.reply is reply:
            self.reply = None

    def notice(
        self, text: str, severity: Literal["information", "warning", "error"] = "warning", once: bool = False
    ) -> None:
        if once and text in self._said:
            return
        self._said.add(text)
        self.post(ServerNotice(text, severity))

    def refuse(self, field: str, message: str) -> None:
        """The server answered 400 to `field`: leave it out from now on, and say so."""
        self.refused_fields.add(field)
        caps = self.capabilities
        if field == "logprobs":
            self.capabilities = replace(caps, probabilities=False)
            text = f"{message} — {NO_PROBABILITIES} for the heat-map."
        elif (knob := KNOB_OF.get(field)) is not None:
            self.capabilities = replace(caps, refused=(*caps.refused, (knob, message)))
            text = f"{message} — its slider is greyed out; the server's own setting applies."
        else:
            text = f"{message} — requests leave {field} out."
        self.post(CapabilitiesChanged(self.capabilities))
        self.notice(text)

    def no_probabilities(self) -> None:
        """Logprobs were asked for and none came: stop asking this server."""
        self.refused_fields.add("logprobs")
        self.capabilities = replace(self.capabilities, probabilities=False)
        self.post(CapabilitiesChanged(self.capabilities))
        self.notice(f"The server sent its reply without logprobs: {NO_PROBABILITIES} for the heat-map.")
