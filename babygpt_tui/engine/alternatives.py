"""A token's alternatives: the n most likely tokens under the raw distribution and under the
warped one, for one step (an event's `top_raw`/`top_warped`) or for a batch of steps at once.

The TUI asks for ten of them at every token, and a decode step of the bundled model is ~1.2 ms:
per token, the topk, its host copies, twenty `Alternative`s and their record cost ~10 % of the
step. The engine server therefore defers them (`Deferred`): a step keeps its two distributions
(tensors the sampler made anyway), and the records of a whole batch of tokens (~30 ms of them)
are made when the batch is sent, with one topk over the stacked rows — most often straight into
the columnar form the wire carries (`token_record.Columns`), without a Python object per value.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import cast

import torch

from ..api import Alternative, TokenEvent
from ..batching import record_from
from ..token_record import CUT, NONE, SCALE, TINY, Columns, TokenRecord, assemble, dequantize_all, quantize
from .sampling import Pick

Row = tuple[list[int], list[float | None], list[int], list[float | None]]  # raw ids, their probs, warped ids, theirs

# Rows a Deferred holds at most (two vocabulary-sized tensors each, ~50 kB for the bundled model):
# past it they are made at once, so a UI that stops acknowledging batches cannot grow the memory.
MAX_PENDING = 64


@torch.inference_mode()
def top_rows(steps: Sequence[tuple[Pick, bool]], n: int, rounded: bool = False) -> list[Row]:
    """The top `n` alternatives of each step (its pick, and whether the warpers kept the raw order);
    `rounded`: their probabilities as a record keeps them (`token_record.rounded`, on the tensors).

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
    probs = [values.exp()]  # the raw ones, then the warped ones read off, then a full topk's
    if read_off:
        at = ids[read_off] if len(read_off) < len(steps) else ids
        probs.append(_stacked([_probs(picks[i]) for i in read_off]).gather(1, at))
    w_ids: list[list[int]] = []
    if full:
        w_values, w_top = torch.topk(_stacked([_probs(picks[i]) for i in full]), k, dim=1)
        probs.append(w_values)
        w_ids = w_top.tolist()
    # every probability of the batch to the host at once (each op in the decode loop costs ~10 µs)
    p_rows = _rounded_rows(torch.cat(probs), k) if rounded else torch.cat(probs).tolist()
    id_rows, raw_rows = ids.tolist(), p_rows[: len(steps)]
    read_rows = iter(p_rows[len(steps) : len(steps) + len(read_off)])
    full_rows = zip(w_ids, p_rows[len(steps) + len(read_off) :], strict=True)
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


def quantize_codes(p: torch.Tensor) -> torch.Tensor:
    """`token_record.quantize` of every probability in `p`, on the tensor: the same codes (in
    float64, as `math.log` computes them; a test checks they agree) without a Python call per
    value — in the decode loop one costs ~1 µs, and a token has twenty."""
    x = p.double()
    codes = x.log().mul_(-SCALE).add_(0.5).floor_().clamp_(0, TINY)
    return codes.masked_fill_(x <= 0.0, CUT).masked_fill_(x.isnan(), NONE).long()


def _rounded_rows(p: torch.Tensor, k: int) -> list[list[float | None]]:
    """The rows of `p` as a record keeps them (`token_record.rounded` of each)."""
    flat = dequantize_all(quantize_codes(p).flatten().tolist())
    return [flat[i : i + k] for i in range(0, len(flat), k)]


def alternatives(chosen: Pick, n: int, chars: Sequence[str], order_kept: bool) -> tuple[tuple[Alternative, ...], ...]:
    """One step's alternatives as an event carries them: (top_raw, top_warped)."""
    raw_ids, raw_p, warped_ids, warped_p = top_rows([(chosen, order_kept)], n)[0]  # not rounded: floats
    return _alts(raw_ids, cast(list[float], raw_p), chars), _alts(warped_ids, cast(list[float], warped_p), chars)


class Deferred:
    """The alternatives of a reply's steps, made per batch: `add` keeps a step's distributions,
    `records` makes the records of the events a batch sends (and of every step kept before them).

    A batch goes out columnar (`token_record.Columns`), assembled from the tensors — its codes
    quantized on them, its columns their bytes — when its rows allow: each alternative of the
    bundled model's step otherwise costs about a microsecond of Python (a float, its rounding,
    its place in a record, its code again on the wire), and a token has twenty."""

    def __init__(self, n: int, chars: Sequence[str]) -> None:
        self.n, self.chars = n, chars
        self._pending: list[tuple[int, Pick, bool]] = []  # (step, pick, order kept)
        self._rows: dict[int, Row] = {}  # made, not yet sent
        # the columnar form's uint16 ids and one character per token, in the machine's byte order
        self._columnar = len(chars) <= 0x10000 and sys.byteorder == "little" and all(len(c) == 1 for c in chars)

    def add(self, step: int, chosen: Pick, order_kept: bool) -> None:
        self._pending.append((step, chosen, order_kept))
        if len(self._pending) >= MAX_PENDING:
            self._make()

    def _make(self) -> None:
        rows = top_rows([(chosen, kept) for _, chosen, kept in self._pending], self.n, rounded=True)
        self._rows.update(zip((step for step, _, _ in self._pending), rows, strict=True))
        self._pending.clear()

    def records(self, events: Sequence[TokenEvent], forced: int, windows: bool) -> Sequence[TokenRecord]:
        """The records of `events` (steps of this reply, each added before): see `Batcher`."""
        steps = self._pending[: len(events)]
        if self._columnar and not self._rows and [step for step, _, _ in steps] == [e.step for e in events]:
            picks, kept = [chosen for _, chosen, _ in steps], [k for _, _, k in steps]
            columns = self._columns(events, picks, kept, forced, windows)
            if columns is not None:
                del self._pending[: len(events)]
                return columns
        if self._pending:
            self._make()
        chars = self.chars
        return [record_from(e, *self._rows.pop(e.step), chars, e.step < forced, windows) for e in events]

    @torch.inference_mode()
    def _columns(
        self, events: Sequence[TokenEvent], picks: list[Pick], kept: list[bool], forced: int, windows: bool
    ) -> Columns | None:
        """The batch's records, columnar — None when a row needs more than `top_rows`' simple cases:
        a second topk (a repetition penalty), or a greedy argmax outside the raw top."""
        if any(not k and not p.greedy for p, k in zip(picks, kept, strict=True)):
            return None
        k = min(self.n, picks[0].logprobs.numel())
        values, ids = torch.topk(_stacked([p.logprobs for p in picks]), k, dim=1)
        sampled = [i for i, p in enumerate(picks) if not p.greedy]
        m = len(picks)
        if len(sampled) == m:  # the usual batch: raw and warped probabilities quantized at once
            gathered = _stacked([_probs(p) for p in picks]).gather(1, ids)
            columns = torch.cat([ids, quantize_codes(torch.cat([values.exp(), gathered]))])
        else:  # greedy rows: the argmax at 1 (code 0), the others cut
            hit = ids == torch.tensor([p.best for p in picks]).unsqueeze(1)
            greedy = [i for i, p in enumerate(picks) if p.greedy]
            if not bool(hit[greedy].any(1).all()):
                return None
            warped = torch.where(hit, 0, CUT)
            if sampled:
                probs = _stacked([_probs(picks[i]) for i in sampled])
                warped[sampled] = quantize_codes(probs.gather(1, ids[sampled]))
            columns = torch.cat([ids, quantize_codes(values.exp()), warped])
        data, size = _bytes(columns), m * k * 2  # ids, raw codes, warped codes: uint16 each
        chars = self.chars
        return assemble(
            [e.id for e in events],
            [_chosen_code(math.exp(e.logprob)) for e in events],
            [_chosen_code(e.warped_prob) for e in events],
            k,
            data[:size],
            data[size : 2 * size],
            data[2 * size :],
            {i: chars[i] for i in torch.unique(ids).tolist()},
            [i for i, e in enumerate(events) if e.step < forced],
            [e.cache_len for e in events] if windows else [],
        )


def _chosen_code(p: float) -> int:
    """The chosen token's probability as `record_from` keeps it (unknown counts as 0)."""
    code = quantize(p)
    return CUT if code == NONE else code


def _bytes(t: torch.Tensor) -> bytes:
    return t.to(torch.uint16).numpy().tobytes()


def _stacked(rows: list[torch.Tensor]) -> torch.Tensor:
    return rows[0].unsqueeze(0) if len(rows) == 1 else torch.stack(rows)


def _probs(chosen: Pick) -> torch.Tensor:
    assert chosen.probs is not None  # a sampled pick made with want_probs
    return chosen.probs


def _alts(ids: list[int], probs: list[float], chars: Sequence[str]) -> tuple[Alternative, ...]:
    return tuple(Alternative(i, chars[i], p) for i, p in zip(ids, probs, strict=True))
