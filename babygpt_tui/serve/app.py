"""The ASGI app: OpenAI-compatible routes over the engine thread (Starlette; uvicorn runs it).

    GET  /health               200 {"status": "ok", ...} once the model is loaded, 503 before
    GET  /v1/models            the one served model
    POST /v1/completions       prompt -> text (stream: server-sent events, ends with [DONE])
    POST /v1/chat/completions  messages joined as one transcript (see schema.chat_prompt) -> text

Every error is `{"error": {...}}` (see errors.py). A client that disconnects cancels its
generation, queued or running: a watcher waits for the ASGI `http.disconnect` message, which
arrives even while the engine holds tokens back or the request waits in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive

from ..api import TokenEvent
from .errors import APIError
from .prompt_tokens import PromptLogprobs
from .responses import Reply, Token
from .schema import ChatBody, CompletionBody, Defaults, Spec, chat_spec, check_model, completion_spec, model_ids
from .schema import parse_body as parse
from .worker import Engine, Failed, Finished, Job

log = logging.getLogger("babygpt_tui.serve")
# At most one stream chunk per this many seconds: tokens that come faster share a chunk, so the
# event loop (and the client) handle ~50 chunks/s, not one per token; slower tokens go at once.
# The event loop and the engine thread share the GIL: every chunk the loop builds is time the
# engine waits (measured: one chunk per token cost a quarter of the decode rate).
STREAM_INTERVAL_S = 0.02
WHOLE_INTERVAL_S = 0.1  # a non-streamed answer: nobody sees the tokens until the end
SHUTTING_DOWN = APIError(503, "the generation was cancelled: the server is shutting down", code="shutting_down")


@dataclass(frozen=True)
class ServeOptions:
    defaults: Defaults = Defaults()
    api_key: str | None = None  # None: no key needed (loopback only; the command enforces that)
    max_body_bytes: int = 1 << 20


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _sse(obj: Any) -> str:
    return f"data: {_json(obj)}\n\n"


def create_app(engine: Engine, options: ServeOptions) -> Starlette:
    def authorize(request: Request) -> None:
        if options.api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {options.api_key}".encode()):
            raise APIError(
                401,
                "missing or wrong API key: send the header `Authorization: Bearer KEY` with the key the server was "
                "started with",
                code="invalid_api_key",
            )

    async def read_body(request: Request) -> bytes:
        limit = options.max_body_bytes
        too_big = APIError(413, f"the request body is larger than {limit:,} bytes", code="request_too_large")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_big
        return bytes(body)

    def served_name() -> str:
        if engine.info is None:
            raise engine.unavailable()
        return engine.info.name

    async def health(request: Request) -> Response:
        c = engine.counts
        body = {
            "status": "ok" if engine.state == "ready" else engine.state,
            "model": model_ids(engine.info.name)[0] if engine.info else None,
            "running": engine.running,
            "queued": engine.queued,
            "max_queue": engine.max_queue,
            "generations": {"finished": c.finished, "cancelled": c.cancelled, "failed": c.failed},
            "rejected": c.rejected,
        }
        if engine.load_error:
            body["error"] = engine.load_error
        return JSONResponse(body, status_code=200 if engine.state == "ready" else 503)

    async def models(request: Request) -> Response:
        authorize(request)
        name = served_name()
        info = engine.info
        assert info is not None
        entry = {
            "id": model_ids(name)[0],
            "object": "model",
            "created": 0,
            "owned_by": "babygpt-tui",
            # extensions: what a client needs to know about a character model
            "context_length": info.block_size,
            "vocab_size": info.vocab_size,
            "n_params": info.n_params,
        }
        return JSONResponse({"object": "list", "data": [entry]})

    async def generate(request: Request, make_spec: Callable[[bytes], tuple[str | None, Spec]]) -> Response:
        authorize(request)
        name = served_name()  # 503 while loading, before the body is even read
        requested, spec = make_spec(await read_body(request))
        check_model(requested, name)
        job = engine.submit(spec)
        watcher = asyncio.create_task(_watch_disconnect(request.receive, job))
        reply = Reply(spec, model_ids(name)[0])
        if spec.stream:
            return StreamingResponse(
                _stream(job, reply, watcher),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            return JSONResponse(await _collect(job, reply))
        finally:
            watcher.cancel()

    async def completions(request: Request) -> Response:
        def spec(raw: bytes) -> tuple[str | None, Spec]:
            body = parse(CompletionBody, raw)
            return body.model, completion_spec(body, options.defaults)

        return await generate(request, spec)

    async def chat(request: Request) -> Response:
        def spec(raw: bytes) -> tuple[str | None, Spec]:
            body = parse(ChatBody, raw)
            return body.model, chat_spec(body, options.defaults)

        return await generate(request, spec)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        err = APIError(exc.status_code, message.get(exc.status_code, str(exc.detail)))
        return JSONResponse(err.body(), status_code=exc.status_code, headers=exc.headers)

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        APIError: api_error,
        HTTPException: http_error,
    }
    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", models),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )


async def _watch_disconnect(receive: Receive, job: Job) -> None:
    """Cancel `job` when the client goes away (the body is read: the next message is the end)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    job.stop(disconnected=True)


async def _items(job: Job, interval: float) -> AsyncIterator[tuple[list[Token], list[Token], Finished | Failed | None]]:
    """Batches as (prompt tokens under echo, new tokens, the end or None), at most one per `interval`."""
    loop = asyncio.get_running_loop()
    last = 0.0
    while True:
        if (wait := last + interval - loop.time()) > 0:
            await asyncio.sleep(wait)  # the tokens of this pause arrive together
        last = loop.time()
        prompt: list[Token] = []
        tokens: list[Token] = []
        end: Finished | Failed | None = None
        for item in await job.channel.get():
            if isinstance(item, TokenEvent):
                tokens.append(Token.of(item))
            elif isinstance(item, PromptLogprobs):
                prompt = [Token.of(p) for p in item.tokens]
            else:
                end = item
        yield prompt, tokens, end
        if end is not None:
            return


async def _collect(job: Job, reply: Reply) -> dict[str, Any]:
    prompt_lp: list[Token] | None = None
    tokens: list[Token] = []
    async for prompt, batch, end in _items(job, WHOLE_INTERVAL_S):
        prompt_lp = prompt or prompt_lp
        tokens += batch
        if isinstance(end, Failed):
            raise APIError(end.status, end.message)
        if isinstance(end, Finished):
            if end.stats.stop_reason == "stopped":
                raise SHUTTING_DOWN
            echoed = reply.echo_tokens(None) if prompt_lp is None else prompt_lp
            return reply.final([*echoed, *tokens] if reply.spec.echo else tokens, end.stats)
    raise AssertionError("the engine ended a job without Finished or Failed")


async def _stream(job: Job, reply: Reply, watcher: asyncio.Task[None]) -> AsyncIterator[str]:
    try:
        first = True
        async for prompt, tokens, end in _items(job, STREAM_INTERVAL_S):
            if first and reply.spec.echo:
                tokens = (prompt or reply.echo_tokens(None)) + tokens
            first = False
            if isinstance(end, Failed):
                if tokens:
                    yield _sse(reply.chunk(tokens))
                yield _sse(APIError(end.status, end.message).body())
                return
            if isinstance(end, Finished):
                if end.stats.stop_reason == "stopped":
                    if not job.disconnected:  # else nobody is listening
                        if tokens:
                            yield _sse(reply.chunk(tokens))
                        yield _sse(SHUTTING_DOWN.body())
                    return
                yield _sse(reply.last_chunk(tokens, end.stats))
                if reply.spec.include_usage:
                    yield _sse(reply.usage_chunk(end.stats))
                yield "data: [DONE]\n\n"
                return
            if tokens:
                yield _sse(reply.chunk(tokens))
    finally:
        watcher.cancel()
        job.stop()  # a no-op when it has finished; cancels it when the stream was abandoned
