"""The bridge between the engine and the UI. Runs in worker threads and never touches a widget:
it only posts messages (thread-safe).

Per-token `post_message` costs 50–110 % of decode speed, so `Batcher` groups token events and
emits one `TokensGenerated` every ~30 ms (or every `max_tokens`). All its timing uses the
events' own timestamps, so a test that feeds events with fixed times gets identical batches.

Back-pressure: a new batch is only posted once the UI has handled the previous one
(`TokensGenerated.handled`). If drawing falls behind, batches grow instead of queueing up, so
keys like Esc are never stuck behind a backlog of stale messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..api import Backend, GenerationRequest, SamplingParams, TokenEvent
from ..errors import UserError
from .messages import GenerationFinished, ModelLoaded, ModelLoadFailed, TokensGenerated
from .token_info import token_entry

Post = Callable[[object], object]


class Batcher:
    """Groups TokenEvents into TokensGenerated messages and measures the live decode rate.
    Each message also carries its tokens' probabilities and alternatives (`token_info.py`)."""

    def __init__(
        self,
        turn_id: int,
        start: float,
        interval: float = 0.03,
        max_tokens: int = 64,
        rate_window: float = 0.5,
        sample_every: float = 0.25,
        ready: Callable[[], bool] = lambda: True,
        forced: int = 0,
    ) -> None:
        self.turn_id, self.start = turn_id, start
        self.interval, self.max_tokens = interval, max_tokens
        self.rate_window, self.sample_every = rate_window, sample_every
        self.ready = ready
        self.tokens = 0
        self.forced = forced  # the first `forced` tokens were forced (a branch), not sampled
        self._text: list[str] = []
        self._info: list[list] = []  # per-token probabilities and alternatives (see token_info.py)
        self._last: TokenEvent | None = None
        self._shifted = False
        self._flushed_at: float | None = None
        self._history: deque[tuple[float, int]] = deque()  # (event time, tokens) at each flush
        self._sampled: tuple[float, int] | None = None
        self._prefill_ms = 0.0

    def add(self, event: TokenEvent) -> TokensGenerated | None:
        if self._last is None:  # first token: show it at once (time to first token matters)
            self._prefill_ms = max(event.time - self.start, 0.0) * 1000
            self._history.append((event.time, 1))
            self._sampled = (event.time, 1)
        self._text.append(event.text)
        self._info.append(token_entry(event, self._last.params if self._last else None, event.step < self.forced))
        self._shifted = self._shifted or event.shifted
        self._last = event
        self.tokens += 1
        due = self._flushed_at is None or event.time - self._flushed_at >= self.interval
        return self.flush() if (due or len(self._text) >= self.max_tokens) and self.ready() else None

    def flush(self) -> TokensGenerated | None:
        if not self._text or self._last is None:
            return None
        now = self._last.time
        self._history.append((now, self.tokens))
        while len(self._history) > 2 and now - self._history[1][0] >= self.rate_window:
            self._history.popleft()
        (t0, n0) = self._history[0]
        rate = (self.tokens - n0) / (now - t0) if now > t0 else 0.0
        sample = None
        if self._sampled and now - self._sampled[0] >= self.sample_every:
            sample = (self.tokens - self._sampled[1]) / (now - self._sampled[0])
            self._sampled = (now, self.tokens)
        message = TokensGenerated(
            self.turn_id,
            "".join(self._text),
            count=len(self._text),
            tokens=self.tokens,
            rate=rate,
            sample=sample,
            cache_len=self._last.cache_len,
            shifted=self._shifted,
            prefill_ms=self._prefill_ms,
            token_info=self._info,
        )
        self._text, self._info, self._shifted, self._flushed_at = [], [], False, now
        return message


def run_generation(
    backend: Backend,
    request: GenerationRequest,
    cancel: threading.Event,
    params_source: Callable[[], SamplingParams],
    post: Post,
    turn_id: int,
) -> None:
    """Stream one reply, posting batches and then exactly one GenerationFinished."""
    handled = threading.Event()
    handled.set()
    batcher = Batcher(turn_id, time.perf_counter(), ready=handled.is_set, forced=len(request.forced_prefix))
    run = events = None
    try:
        run = backend.stream(request, cancel, params_source)
        events = iter(run)
        for event in events:
            if (message := batcher.add(event)) is not None:
                handled.clear()
                message.handled = handled
                post(message)
        error = ""
    except Exception as e:  # any failure becomes an `error` turn; the app stays alive
        error = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # a suspended engine generator would keep holding the model's lock
    if (message := batcher.flush()) is not None:
        post(message)
    post(GenerationFinished(turn_id, getattr(run, "stats", None), error))


# Every torch call of the app runs on this one long-lived thread: loading the model and every
# reply. Each thread that calls into torch gets its own OpenMP team, and two teams on a 2-core
# machine spin against each other: decode measured 20-30 % slower in a fresh thread per reply.
ENGINE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")


def load_backend(loader: Callable[[], Backend], path: str, post: Post) -> None:
    """Call the (torch-importing) loader in this thread; report success or failure."""
    start = time.perf_counter()
    try:
        backend = loader()
    except UserError as e:
        post(ModelLoadFailed(path, str(e), user_error=True))
    except Exception as e:  # a bug, but the user still deserves a screen rather than a traceback
        post(ModelLoadFailed(path, f"{type(e).__name__}: {e}", user_error=False))
    else:
        post(ModelLoaded(backend, time.perf_counter() - start))
