"""One reply from a server: one or more streamed /v1/completions requests ("segments") whose
tokens become the same `TokensGenerated` batches the engine process sends, then one
`GenerationFinished`. Runs as an asyncio task on the app's event loop; nothing here blocks.

Live knobs: a server reads its settings once per request, so a knob moved mid-reply cancels the
stream (the server sees the client go and stops) and continues with a new request whose prompt is
the prompt plus the reply so far, with the new settings and the same seed — the next token uses
the new knob. Moves closer together than RESTART_QUIET_S make one new request. A replay (its
knob `schedule` is known) runs the same segments, so the same seed gives the same text again.

Esc cancels the stream (the reply is kept, "stopped"). A field the server refuses (a 400 naming
it) is dropped and the request sent again; a server still loading (503) is waited for.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Literal

from httpx_sse import aconnect_sse

from ...api import Alternative, Generate, GenStats, SamplingParams, Started, StopReason, TokenBatch, TokenEvent
from ...batching import Batcher
from ..conversation import CONTEXT_CHARS_PER_BLOCK
from ..messages import GenerationFinished, ReplyStarted, TokensGenerated
from .failures import Failure, describe
from .wire import OPTIONAL_FIELDS, Chunk, ServerError, completion_body, error_of, parse_chunk, refused_field

if TYPE_CHECKING:
    from .client import RemoteClient

RESTART_QUIET_S = 0.1  # a slider held down sends many moves: wait this long without one before asking again
LOAD_WAIT_S = 600.0  # how long a reply waits for a server that says 503 (loading its model)
RETRY_S = 1.0
FLUSH_S = 0.03  # tokens that arrived after the last batch are posted this soon even if no more come
Segment = Literal["stop", "length", "changed", "stopped"]


class RemoteReply:
    def __init__(self, client: RemoteClient, work: Generate) -> None:
        self.client = client
        self.turn, self.request, self.schedule = work.turn, work.request, dict(work.schedule)
        self.params = self.schedule.get(0, work.request.params)  # the knobs of the running segment
        self.next_params = self.params
        self.wake = asyncio.Event()  # a knob moved or Esc
        self.stopping = self.changed = False
        self.acked = True
        self.text = ""  # the reply so far
        self.counts: list[int | None] = []  # each finished segment's token count from the server
        self.restarted = False
        self.prompt_tokens = 0  # of the first request, when the server says
        self.first_at = self.last_at = 0.0
        self.start = time.perf_counter()
        records = work.request.top_alternatives > 0 and client.capabilities.probabilities
        self.batcher = Batcher(self.turn, self.start, ready=lambda: self.acked, records=records)
        self._timer: asyncio.TimerHandle | None = None
        self._started = False
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"reply-{self.turn}")

    # ----- from the UI (the event loop): knobs, Esc, acknowledgements --------------------------
    def set_params(self, params: SamplingParams) -> None:
        if self.schedule or params == self.next_params:
            return  # a replay keeps its stored knobs
        self.next_params, self.changed = params, True
        self.wake.set()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()

    def ack(self) -> None:
        self.acked = True
        self._flush()

    # ----- the reply ---------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            stop_reason, error = await self._segments(), ""
        except Failure as e:
            stop_reason, error = "error", str(e)
        except Exception as e:  # a bug here: the reply ends as an error (kept, saved), the TUI goes on
            stop_reason, error = "error", f"{type(e).__name__}: {e}"
        self._finish(stop_reason, error)

    async def _segments(self) -> StopReason:
        if self.request.forced_prefix:
            raise Failure("A branch cannot be generated on a server: it forces the model's own token ids.")
        while True:
            steps = sorted(s for s in self.schedule if s <= self.batcher.tokens)
            params = self.schedule[steps[-1]] if steps else self.params
            later = [s for s in self.schedule if s > self.batcher.tokens]
            end = min([params.max_new_tokens, *later])
            if self.batcher.tokens >= end:
                return "length"
            before = self.batcher.tokens
            outcome = await self._segment(params, end - before)
            if outcome == "stopped":
                return "stopped"
            if outcome == "changed":
                await self._quiet()
                if self.stopping:
                    return "stopped"
                self.params, self.restarted = self.next_params, True
                continue
            if outcome == "stop" or self.batcher.tokens == before or (not later and self.batcher.tokens < end):
                return "stop" if outcome == "stop" else "length"  # a stop string, the server's end or its limit

    async def _quiet(self) -> None:
        """Wait until the knobs have not moved for RESTART_QUIET_S (or Esc)."""
        while not self.stopping:
            self.changed = False
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), RESTART_QUIET_S)
            except TimeoutError:
                return

    async def _segment(self, params: SamplingParams, max_tokens: int) -> Segment:
        """One request: its finish reason, or why it was cut short. Failure if it failed."""
        client, waited, refusals = self.client, 0.0, 0
        while True:
            if self.stopping:
                return "stopped"
            if self.changed:
                return "changed"
            self.wake.clear()
            body = completion_body(
                self._prompt(),
                params,
                self.request.seed,
                model=client.model_name,
                max_tokens=max_tokens,
                logprobs=self.request.top_alternatives if self.batcher.with_records else 0,
                stop=self.request.stop,
                refused=client.refused_fields,
            )
            try:
                return await self._interruptible(self._stream(body, params))
            except ServerError as e:
                error = e
            except Failure:
                raise
            except Exception as e:  # httpx's errors, a stream that is not the API: one sentence
                raise Failure(describe(e, client.url, client.model_name)) from None
            if error.status == 503 and waited < LOAD_WAIT_S:
                if not waited:
                    client.notice(f"The server is not ready ({error}); the reply starts once it is (Esc cancels).")
                waited += RETRY_S
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), RETRY_S)
                continue
            field = refused_field(error, body)
            if field is None or refusals >= len(OPTIONAL_FIELDS):
                raise Failure(describe(error, client.url, client.model_name))
            refusals += 1
            client.refuse(field, error.message)  # and again, without it

    async def _interruptible(self, stream: Coroutine[Any, Any, Segment]) -> Segment:
        """Run one stream until it ends, or cancel it when a knob moves or Esc is pressed."""
        task = asyncio.create_task(stream)
        waker = asyncio.create_task(self.wake.wait())
        try:
            await asyncio.wait({task, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not task.done():
                task.cancel()  # closes the connection: the server stops generating
                with suppress(asyncio.CancelledError, Exception):
                    await task
        if task.cancelled():
            return "stopped" if self.stopping else "changed"
        return task.result()

    def _prompt(self) -> str:
        text = self.request.prompt + self.text
        limit = self.client.block_size * CONTEXT_CHARS_PER_BLOCK
        return text[-limit:] if limit else text

    async def _stream(self, body: dict[str, object], params: SamplingParams) -> Segment:
        client = self.client
        assert client.http is not None
        finish: str | None = None
        count: int | None = None  # tokens, as the server counts them
        async with aconnect_sse(client.http, "POST", client.url + "/v1/completions", json=body) as source:
            response = source.response
            if response.status_code != 200:
                raise error_of(response.status_code, await response.aread())
            if not self._started:
                self._started = True
                client.post(ReplyStarted(Started(self.turn)))
            async for event in source.aiter_sse():
                if event.data.strip() == "[DONE]":
                    break
                chunk = parse_chunk(event.data)
                if chunk.error is not None:
                    raise Failure(describe(chunk.error, client.url))
                self._take(chunk, params, "logprobs" in body)
                finish = chunk.finish_reason or finish
                count = chunk.completion_tokens if chunk.completion_tokens is not None else count
                if chunk.prompt_tokens is not None and not self.prompt_tokens:
                    self.prompt_tokens = chunk.prompt_tokens
        if finish is None:
            raise Failure(f"The server at {client.url} ended its stream mid-reply without saying why.")
        self.counts.append(count)
        return "stop" if finish == "stop" else "length"

    def _take(self, chunk: Chunk, params: SamplingParams, asked: bool) -> None:
        for warning in chunk.warnings:
            self.client.notice(f"The server: {warning}", once=True)
        if not chunk.text:
            return
        now = time.perf_counter()
        tokens = chunk.tokens
        if tokens is not None and (
            "".join(t.text for t in tokens) != chunk.text or any(t.logprob is None for t in tokens)
        ):
            tokens = None  # pieces of characters (bytes of a UTF-8 character): cannot be lined up
        if tokens is None and self.batcher.with_records:
            self.batcher.with_records = False  # from here on the reply has no per-token data
            if asked:
                self.client.no_probabilities()
        pieces: list[tuple[str, float, tuple[tuple[str, float], ...]]]
        if tokens is None:
            pieces = [(c, math.nan, ()) for c in chunk.text]  # no token boundaries: one event per character
        else:
            pieces = [(t.text, t.logprob or 0.0, t.top) for t in tokens]
        ids = self.client.ids
        for text, logprob, top in pieces:
            step = self.batcher.tokens
            position = len(self.request.prompt) + len(self.text)
            block = self.client.block_size
            event = TokenEvent(
                id=ids.of(text),
                text=text,
                logprob=logprob,
                position=position,
                step=step,
                cache_len=min(position + 1, block) if block else 0,
                shifted=False,
                time=now,
                params=params,
                top_raw=tuple(Alternative(ids.of(t), t, math.exp(lp)) for t, lp in top),
                warped_prob=math.exp(logprob) if tokens is not None else 1.0,  # a server tells raw ones only
            )
            self.text += text
            if not self.first_at:
                self.first_at = now
            self.last_at = now
            if (batch := self.batcher.add(event)) is not None:
                self._post(batch)
        if self.batcher.pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self._flush)

    def _flush(self, force: bool = False) -> None:
        self._timer = None
        if (self.acked or force) and self.batcher.pending and (batch := self.batcher.flush()) is not None:
            self._post(batch)

    def _post(self, batch: TokenBatch) -> None:
        self.acked = False
        self.client.post(TokensGenerated(batch))

    def _finish(self, stop_reason: StopReason, error: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._flush(force=True)
        n = self.batcher.tokens
        if self.counts and not self.restarted and all(c is not None for c in self.counts):
            n = sum(c for c in self.counts if c is not None)  # the server's count (tokens, not characters)
        decode_s = max(self.last_at - self.first_at, 0.0)
        stats = GenStats(
            tokens=n,
            prompt_tokens=self.prompt_tokens,
            prefill_ms=max(self.first_at - self.start, 0.0) * 1000 if self.first_at else 0.0,
            decode_s=decode_s,
            decode_tokens_per_s=(n - 1) / decode_s if n > 1 and decode_s > 0 else 0.0,
            stop_reason=stop_reason,
            seed=self.request.seed,
            error=error,
        )
        self.client.post(GenerationFinished(self.turn, stats, error))
        self.client.reply_ended(self)
