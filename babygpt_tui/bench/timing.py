"""Measuring: warm-up first, then repetitions interleaved across cases, then medians.

Interleaving (rep 1 of every case, then rep 2 of every case, ...) matters on a noisy machine:
a slow spell then hits every case a little instead of one case a lot, so the ratios between
cases, which are what the targets are about, stay fair.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Sample:
    """One repetition of one case. Rates are tokens per second; None when not measured."""

    decode: float | None = None
    prefill: float | None = None


@dataclass
class Case:
    key: str  # stable name used in JSON and for ratios, e.g. "engine_float32"
    label: str  # what the table shows
    dtype: str
    run: Callable[[bool], Sample]  # run(warmup) -> Sample; a warm-up may use fewer tokens
    note: str = ""
    samples: list[Sample] = field(default_factory=list)
    skipped: str = ""  # why it did not run (e.g. transformers missing, dtype unsupported)
    warm_up: bool = True  # False: each run is a fresh process anyway (rows from outside, --quick)

    def median(self, what: str) -> float | None:
        values = [v for s in self.samples if (v := getattr(s, what)) is not None]
        return statistics.median(values) if values else None

    def values(self, what: str) -> list[float]:
        return [v for s in self.samples if (v := getattr(s, what)) is not None]


def decode_rate(stamps: list[float]) -> float:
    """Tokens per second between the first and the last token: prefill and set-up excluded.

    Same definition as GenStats.decode_tokens_per_s, so every row is measured alike."""
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def sync(device: torch.device) -> None:
    """Wait for queued device work so a timer measures it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure(cases: list[Case], reps: int, progress: Callable[[str], None] = lambda _: None) -> None:
    """Warm every case up once (excluded), then run `reps` interleaved rounds into case.samples."""
    live = [c for c in cases if not c.skipped]
    for case in live:
        if case.warm_up:
            progress(f"warm-up: {case.label}")
            _run(case, True)
    for rep in range(reps):
        progress(f"repetition {rep + 1}/{reps}")
        for case in [c for c in live if not c.skipped]:
            if (sample := _run(case, False)) is not None:
                case.samples.append(sample)


def _run(case: Case, warmup: bool) -> Sample | None:
    """One run; a case that cannot run (e.g. a dtype this device lacks) is marked skipped."""
    try:
        return case.run(warmup)
    except (RuntimeError, NotImplementedError) as e:
        first = (str(e).splitlines() or [""])[0]
        case.skipped = f"skipped: {type(e).__name__}: {first[:120]}"
        case.samples.clear()
        return None


def skipped_case(key: str, label: str, dtype: str, reason: str) -> Case:
    """A row that did not run, with the reason the table shows."""
    return Case(key, label, dtype, run=lambda warmup: Sample(), skipped=reason)
