"""A token's alternatives: the n most likely tokens under the raw distribution and under the
warped one, for one step (an event's `top_raw`/`top_warped`) or for a batch of steps at once.

The TUI asks for ten of them at every token, and a decode step of the bundled model is ~1.2 ms:
per token, the topk, its host copies, twenty `Alternative`s and their record cost ~10 % of the
step. The engine server therefore defers them (`Deferred`): a step keeps its two distributions
(tensors the sampler made anyway), and the records of a whole batch of tokens (~30 ms of them)
are made when the batch is sent, with one topk over the stacked rows and one host copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import cast

import torch

from ..api import Alternative, TokenEvent
from ..batching import record_from
from ..token_record import TokenRecord
from ..token_record import rounded as rounded_prob
from .sampling import Pick

Row = tuple[list[int], list[float | None], list[int], list[float | None]]  # raw ids, their probs, warped ids, theirs

# Rows a Deferred holds at most (two vocabulary-sized tensors each, ~50 kB for the bundled model):
# past it they are made at once, so a UI that stops acknowledging batches cannot grow the memory.
MAX_PENDING = 64


@torch.inference_mode()
def top_rows(steps: Sequence[tuple[Pick, bool]], n: int, rounded: bool = False) -> list[Row]:
    """The top `n` alternatives of each step (its pick, and whether the warpers kept the raw order);
    `rounded`: their probabilities as a record keeps them (`token_record.rounded`).

    Greedy's warped distribution is one-hot: its argmax at 1, then zeros (the warpers cut every
    other token), without building it — the zeros are the raw alternatives' next ids, as a record
    only tells "cut" from them. When the warpers keep the raw order (no repetition penalty), the
    warped top n are the raw top n, their probabilities read off at the same ids (the cut ones at
    0) instead of a second topk. Settings can change mid-reply, so a batch may mix all three."""
    picks = [chosen for chosen, _ in steps]
    k = min(n, picks[0].logprobs.numel())
    values, ids = torch.topk(_stacked([p.logprobs for p in picks]), k, dim=1)
    read_off = [i for i, (p, kept) in enumerate(steps) if kept and not p.greedy]
    full = [i for i, (p, kept) in enumerate(steps) if not kept and not p.greedy]
    host = _host(rounded)
    id_rows, raw_rows = ids.tolist(), host(values.exp())
    read_rows: Iterator[list[float | None]] = iter(())
    full_rows: Iterator[tuple[list[int], list[float | None]]] = iter(())
    if read_off:
        at = ids[read_off] if len(read_off) < len(steps) else ids
        read_rows = iter(host(_stacked([_probs(picks[i]) for i in read_off]).gather(1, at)))
    if full:
        w_values, w_ids = torch.topk(_stacked([_probs(picks[i]) for i in full]), k, dim=1)
        full_rows = zip(w_ids.tolist(), host(w_values), strict=True)
    rows: list[Row] = []
    for (p, kept), row_ids, raw_p in zip(steps, id_rows, raw_rows, strict=True):
        if p.greedy:
            zeros = [i for i in row_ids if i != p.best][: max(0, n - 1)]
            one_hot: list[float | None] = [1.0, *([0.0] * len(zeros))]  # 1 and 0 round to themselves
            rows.append((row_ids, raw_p, [p.best, *zeros], one_hot))
        elif kept:
            rows.append((row_ids, raw_p, row_ids, next(read_rows)))
        else:
            top_ids, top_p = next(full_rows)
            rows.append((row_ids, raw_p, top_ids, top_p))
    return rows


def _host(rounded: bool) -> Callable[[torch.Tensor], list[list[float | None]]]:
    if not rounded:
        return torch.Tensor.tolist
    return lambda p: [list(map(rounded_prob, row)) for row in p.tolist()]


def alternatives(chosen: Pick, n: int, chars: Sequence[str], order_kept: bool) -> tuple[tuple[Alternative, ...], ...]:
    """One step's alternatives as an event carries them: (top_raw, top_warped)."""
    raw_ids, raw_p, warped_ids, warped_p = top_rows([(chosen, order_kept)], n)[0]  # not rounded: floats
    return _alts(raw_ids, cast(list[float], raw_p), chars), _alts(warped_ids, cast(list[float], warped_p), chars)


class Deferred:
    """The alternatives of a reply's steps, made per batch: `add` keeps a step's distributions,
    `records` makes the records of the events a batch sends (and of every step kept before them)."""

    def __init__(self, n: int, chars: Sequence[str]) -> None:
        self.n, self.chars = n, chars
        self._pending: list[tuple[int, Pick, bool]] = []  # (step, pick, order kept)
        self._rows: dict[int, Row] = {}  # made, not yet sent

    def add(self, step: int, chosen: Pick, order_kept: bool) -> None:
        self._pending.append((step, chosen, order_kept))
        if len(self._pending) >= MAX_PENDING:
            self._make()

    def _make(self) -> None:
        rows = top_rows([(chosen, kept) for _, chosen, kept in self._pending], self.n, rounded=True)
        self._rows.update(zip((step for step, _, _ in self._pending), rows, strict=True))
        self._pending.clear()

    def records(self, events: Sequence[TokenEvent], forced: int, windows: bool) -> list[TokenRecord]:
        """The records of `events` (steps of this reply, each added before): see `Batcher`."""
        if self._pending:
            self._make()
        chars = self.chars
        return [record_from(e, *self._rows.pop(e.step), chars, e.step < forced, windows) for e in events]


def _stacked(rows: list[torch.Tensor]) -> torch.Tensor:
    return rows[0].unsqueeze(0) if len(rows) == 1 else torch.stack(rows)


def _probs(chosen: Pick) -> torch.Tensor:
    assert chosen.probs is not None  # a sampled pick made with want_probs
    return chosen.probs


def _alts(ids: list[int], probs: list[float], chars: Sequence[str]) -> tuple[Alternative, ...]:
    return tuple(Alternative(i, chars[i], p) for i, p in zip(ids, probs, strict=True))
