"""bench/timing.measure: warm-ups, interleaved repetitions, and cases that cannot run."""

from __future__ import annotations

from babygpt_tui.bench.timing import Case, Sample, measure


def counting_case(
    key: str, warm_up: bool = True, fail_at: int | None = None, message: str = "generate exited 1: no such dtype\nmore"
) -> tuple[Case, list[bool]]:
    calls: list[bool] = []

    def run(warmup: bool) -> Sample:
        calls.append(warmup)
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError(message)
        return Sample(decode=100.0 + len(calls))

    return Case(key, key, "float32", run, warm_up=warm_up), calls


def test_each_case_warms_up_once_unless_it_says_so_then_runs_every_repetition() -> None:
    warm, warm_calls = counting_case("engine")
    cold, cold_calls = counting_case("outside", warm_up=False)
    measure([warm, cold], 3)
    assert warm_calls == [True, False, False, False] and len(warm.samples) == 3
    assert cold_calls == [False, False, False] and len(cold.samples) == 3  # no warm-up run


def test_a_case_that_fails_in_a_repetition_is_skipped_with_its_reason_and_the_rest_go_on() -> None:
    failing, calls = counting_case("outside", warm_up=False, fail_at=2)
    other, _ = counting_case("engine")
    measure([failing, other], 3)
    assert failing.skipped == "skipped: RuntimeError: generate exited 1: no such dtype"
    assert failing.samples == [] and len(calls) == 2  # not run again once it failed
    assert len(other.samples) == 3


def test_an_error_without_a_message_is_still_one_line() -> None:
    failing, _ = counting_case("engine", fail_at=1, message="")
    measure([failing], 2)
    assert failing.skipped == "skipped: RuntimeError: " and failing.samples == []
