"""The engine thread: loads the model, then runs one generation at a time from a bounded queue.

One long-lived thread does all torch work (a fresh thread per request brings up a second OpenMP
team, measured 20-30 % slower on decode). The event loop `submit`s a `Job` (429 when the queue
is full, 503 while the model loads) and reads its items from the job's channel: `TokenEvent`s,
maybe `PromptLogprobs` first, then one `Finished` or `Failed`. Setting `job.cancel` (the client
went away, the server stops) ends the generation before its next token, or skips a queued job.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..api import GenStats, ModelInfo, TokenEvent
from ..errors import UserError
from .channel import Channel
from .errors import APIError
from .prompt_tokens import PromptLogprobs
from .schema import Spec

if TYPE_CHECKING:  # torch is imported by the loader, on the engine thread, after the port is bound
    from ..engine.generate import Generator

log = logging.getLogger("babygpt_tui.serve")

State = Literal["loading", "ready", "failed", "stopped"]


@dataclass(frozen=True)
class Finished:
    stats: GenStats


@dataclass(frozen=True)
class Failed:
    status: int
    message: str


Item = TokenEvent | PromptLogprobs | Finished | Failed


class Job:
    def __init__(self, number: int, spec: Spec, loop: asyncio.AbstractEventLoop) -> None:
        self.number, self.spec = number, spec
        self.cancel = threading.Event()
        self.channel: Channel[Item] = Channel(loop, self.cancel)
        self.disconnected = False  # why it was cancelled, for the log

    def stop(self, disconnected: bool = False) -> None:
        self.disconnected = self.disconnected or disconnected
        self.cancel.set()
        self.channel.wake()


@dataclass
class Counts:
    finished: int = 0
    cancelled: int = 0
    failed: int = 0
    rejected: int = 0  # 429: the queue was full


class Engine:
    """Owns the Generator on its own thread. `max_queue` jobs may wait behind the running one."""

    def __init__(self, load: Callable[[], Generator], max_queue: int = 8, token_delay: float = 0.0) -> None:
        self._load = load
        self.max_queue = max_queue
        self.token_delay = token_delay  # seconds slept per token (`serve --token-delay`: a slow server to try)
        self.state: State = "loading"
        self.info: ModelInfo | None = None
        self.load_error = ""
        self.counts = Counts()
        self.on_load_failed: Callable[[str], None] | None = None
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending: list[Job] = []  # running first, then waiting
        self._submitted = 0
        self._thread = threading.Thread(target=self._main, name="engine", daemon=True)

    # -- the event loop's side

    def start(self) -> None:
        self._thread.start()

    def submit(self, spec: Spec) -> Job:
        if self.state != "ready":
            raise self.unavailable()
        with self._lock:
            if len(self._pending) > self.max_queue:
                self.counts.rejected += 1
                raise APIError(
                    429,
                    f"the server is busy: one generation runs and {self.max_queue} wait; try again shortly",
                    code="queue_full",
                )
            self._submitted += 1
            job = Job(self._submitted, spec, asyncio.get_running_loop())
            self._pending.append(job)
        self._jobs.put(job)
        return job

    def unavailable(self) -> APIError:
        if self.state == "loading":
            return APIError(503, "the model is still loading; try again in a moment", code="model_loading")
        if self.state == "failed":
            return APIError(503, f"the model could not be loaded: {self.load_error}", code="model_failed")
        return APIError(503, "the server is shutting down", code="shutting_down")

    @property
    def running(self) -> bool:
        with self._lock:
            return bool(self._pending)

    @property
    def queued(self) -> int:
        with self._lock:
            return max(0, len(self._pending) - 1)

    def stop(self) -> None:
        """Cancel every job and end the thread after the current token."""
        if self.state != "failed":
            self.state = "stopped"
        with self._lock:
            jobs = list(self._pending)
        for job in jobs:
            job.stop()
        self._jobs.put(None)

    # -- the engine thread

    def _main(self) -> None:
        try:
            gen = self._load()
        except Exception as e:  # a UserError says what to fix; anything else is reported whole
            self.load_error = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
            self.state = "failed"
            log.error("cannot load the model: %s", self.load_error)
            if self.on_load_failed is not None:
                self.on_load_failed(self.load_error)
            return
        self.info = gen.info
        if self.state == "loading":
            self.state = "ready"
            info = gen.info
            log.info("model %s loaded: %s params, %s, %s", info.name, f"{info.n_params:,}", info.device, info.dtype)
        while (job := self._jobs.get()) is not None:
            try:
                self._run(gen, job)
            finally:
                with self._lock:
                    self._pending.remove(job)

    def _run(self, gen: Generator, job: Job) -> None:
        if job.cancel.is_set():
            self.counts.cancelled += 1
            log.info("request %d cancelled while queued%s", job.number, " (client disconnected)" * job.disconnected)
            return
        try:
            run = gen.stream(job.spec.request, job.cancel)
            if job.spec.echo and job.spec.logprobs is not None:
                from .echo import prompt_logprobs

                job.channel.put(prompt_logprobs(gen, run.prompt_ids, job.spec.logprobs))
            for event in run:
                job.channel.put(event)
                if self.token_delay:
                    time.sleep(self.token_delay)
        except UserError as e:  # e.g. a context_keep the model cannot use
            self.counts.failed += 1
            job.channel.put(Failed(400, str(e)))
            return
        except Exception as e:  # a bug or an out-of-memory: the reply ends, the server goes on
            self.counts.failed += 1
            log.exception("request %d failed", job.number)
            job.channel.put(Failed(500, f"generation failed: {type(e).__name__}: {e}"))
            return
        stats = run.stats
        assert stats is not None
        if stats.stop_reason == "stopped":
            self.counts.cancelled += 1
            why = " (client disconnected)" if job.disconnected else ""
            log.info("request %d cancelled after %d tokens%s", job.number, stats.tokens, why)
        else:
            self.counts.finished += 1
        job.channel.put(Finished(stats))
