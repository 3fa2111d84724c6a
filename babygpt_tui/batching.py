"""Token events of one reply → `TokenBatch` messages for the UI. No torch, no textual: the engine
process batches its own tokens with it, and the TUI's remote client (ui/remote/) the tokens a
server streams, so both reach the UI the same way.

One message per token would cost the UI most of its time, so `Batcher` groups events and emits a
batch every ~30 ms (or every `max_tokens`). All its timing uses the events' own timestamps, so a
test that feeds events with fixed times gets identical batches.

Back-pressure: a batch is only emitted once the UI has acknowledged the previous one (`ready`).
If drawing falls behind, batches grow instead of queueing up in the pipe, so a key like Esc is
never stuck behind a backlog of stale batches.

A reply's records line up with its characters (token_record): a server's token of several
characters (a BPE model's) gets its record once per character, so the heat-map colours the whole
token and the inspector shows its alternatives on each of its characters.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from .api import SamplingParams, TokenBatch, TokenEvent
from .token_record import Columns, TokenRecord, rounded


def record_of(event: TokenEvent, forced: bool = False, window: bool = False) -> TokenRecord:
    """The typed record of one event, from the alternatives it carries (see `record_from`)."""
    texts = {a.id: a.text for a in event.top_raw}
    texts.update((a.id, a.text) for a in event.top_warped)
    return record_from(
        event,
        [a.id for a in event.top_raw],
        [rounded(a.prob) for a in event.top_raw],
        [a.id for a in event.top_warped],
        [rounded(a.prob) for a in event.top_warped],
        texts,
        forced,
        window,
    )


def record_from(
    event: TokenEvent,
    raw_ids: list[int],
    raw_probs: list[float | None],
    warped_ids: list[int],
    warped_probs: list[float | None],
    texts: Mapping[int, str] | Sequence[str],
    forced: bool = False,
    window: bool = False,
) -> TokenRecord:
    """The typed record of one event, its alternatives given apart (the engine makes them per
    batch, `engine.alternatives`) with their probabilities already `rounded` as the columnar form
    stores them, so what the UI shows is what a session file keeps: the raw top alternatives, then
    tokens only in the warped top; each alternative's warped probability is 0.0 when the warpers
    cut it, None when not known. `window`: record the characters the model saw (the engine's cache
    length; a server's stream only gives a guess, which is not kept)."""
    ids = raw_ids
    raw = raw_probs
    warp: list[float | None] = warped_probs
    if warped_ids != raw_ids:  # equal when the warpers kept the raw order (the engine's, most often)
        ids, raw = list(raw_ids), list(raw_probs)
        warped = dict(zip(warped_ids, warped_probs, strict=True))
        cut = 0.0 if 0.0 in warped.values() else None  # fewer survivors than slots: the rest are cut
        warp = []
        for i in raw_ids:
            w = warped.pop(i, None)
            warp.append(cut if w is None else w)
        for i, p in warped.items():  # in the warped top only (what is left, in its order)
            if p:  # neither cut nor unknown
                ids.append(i)
                raw.append(None)
                warp.append(p)
    return TokenRecord(
        event.id,
        rounded(math.exp(event.logprob)) or 0.0,
        rounded(event.warped_prob) or 0.0,
        tuple(ids),
        tuple(map(texts.__getitem__, ids)),
        tuple(raw),
        tuple(warp),
        forced,
        event.cache_len if window else 0,
    )


# (events, how many of the reply's first tokens were forced, windows known) -> their records
MakeRecords = Callable[[Sequence[TokenEvent], int, bool], Sequence[TokenRecord]]


def _records_of(events: Sequence[TokenEvent], forced: int, windows: bool) -> list[TokenRecord]:
    return [record_of(e, e.step < forced, windows) for e in events]


class Batcher:
    """Groups TokenEvents into TokenBatches and measures the live decode rate."""

    def __init__(
        self,
        turn: int,
        start: float,
        interval: float = 0.03,
        max_tokens: int = 64,
        rate_window: float = 0.5,
        sample_every: float = 0.25,
        ready: Callable[[], bool] = lambda: True,
        forced: int = 0,
        records: bool = True,
        windows: bool = False,
        make_records: MakeRecords | None = None,
    ) -> None:
        self.turn, self.start = turn, start
        self.interval, self.max_tokens = interval, max_tokens
        self.rate_window, self.sample_every = rate_window, sample_every
        self.ready = ready
        self.tokens = 0
        self.forced = forced  # the first `forced` tokens were forced (a branch), not sampled
        self.with_records = records  # per-token records (alternatives were asked for)
        self.windows = windows  # the events' cache lengths are the model's real windows (the engine's)
        # the events' records, made when their batch is sent: the engine makes a batch's at once
        # (`engine.alternatives.Deferred`), other streams one by one from the events' alternatives
        self.make_records: MakeRecords = make_records or _records_of
        self._text: list[str] = []
        self._events: list[TokenEvent] = []  # of the pending tokens, when records are made
        self._changes: list[tuple[int, SamplingParams]] = []
        self._params: SamplingParams | None = None
        self._last: TokenEvent | None = None
        self._shifted = False
        self._flushed_at: float | None = None
        self._history: deque[tuple[float, int]] = deque()  # (event time, tokens) at each flush
        self._sampled: tuple[float, int] | None = None
        self._prefill_ms = 0.0

    def add(self, event: TokenEvent) -> TokenBatch | None:
        if self._last is None:  # first token: show it at once (time to first token matters)
            self._prefill_ms = max(event.time - self.start, 0.0) * 1000
            self._history.append((event.time, 1))
            self._sampled = (event.time, 1)
        self._text.append(event.text)
        if self.with_records:
            self._events.append(event)
        if event.params is not self._params and event.params != self._params:
            self._changes.append((event.step, event.params))
        self._params = event.params
        self._shifted = self._shifted or event.shifted
        self._last = event
        self.tokens += 1
        due = self._flushed_at is None or event.time - self._flushed_at >= self.interval
        return self.flush() if (due or len(self._text) >= self.max_tokens) and self.ready() else None

    @property
    def pending(self) -> int:
        """Tokens added since the last batch."""
        return len(self._text)

    def flush(self) -> TokenBatch | None:
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
        records: Sequence[TokenRecord] = ()
        if self._events:
            made = self.make_records(self._events, self.forced, self.windows)
            if isinstance(made, Columns):  # the engine's, one character per token: as they are
                records = made
            else:
                expanded: list[TokenRecord] = []
                for event, record in zip(self._events, made, strict=True):
                    expanded.extend([record] * len(event.text) if len(event.text) > 1 else (record,))
                records = tuple(expanded)
        batch = TokenBatch(
            self.turn,
            "".join(self._text),
            records,
            tuple(self._changes),
            tokens=self.tokens,
            rate=rate,
            sample=sample,
            cache_len=self._last.cache_len,
            shifted=self._shifted,
            prefill_ms=self._prefill_ms,
        )
        self._text, self._events, self._changes, self._shifted, self._flushed_at = [], [], [], False, now
        return batch
