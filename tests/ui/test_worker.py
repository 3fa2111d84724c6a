"""The thread side, without a running app: batching, live rates, back-pressure, failures."""

from __future__ import annotations

import threading

from babygpt_tui.api import GenerationRequest, GenStats, SamplingParams, TokenEvent
from babygpt_tui.errors import UserError
from babygpt_tui.ui.messages import GenerationFinished, ModelLoaded, ModelLoadFailed, TokensGenerated
from babygpt_tui.ui.worker import Batcher, load_backend, run_generation


def event(step: int, t: float, text: str = "字", cache_len: int = 0, shifted: bool = False) -> TokenEvent:
    return TokenEvent(
        id=1,
        text=text,
        logprob=-1.0,
        position=step,
        step=step,
        cache_len=cache_len or step + 1,
        shifted=shifted,
        time=t,
        params=SamplingParams(),
    )


def test_first_token_is_sent_at_once_then_batches_every_30_ms() -> None:
    batcher = Batcher(turn_id=1, start=99.99, interval=0.03)
    messages = [m for i in range(100) if (m := batcher.add(event(i, 100.0 + i * 0.001)))]
    if (last := batcher.flush()) is not None:
        messages.append(last)
    assert messages[0].count == 1 and messages[0].tokens == 1
    assert abs(messages[0].prefill_ms - 10.0) < 1e-6
    assert 3 <= len(messages) <= 5  # 100 tokens at 1 ms each: one message per ~30 ms, never per token
    assert sum(m.count for m in messages) == 100
    assert "".join(m.text for m in messages) == "字" * 100
    assert messages[-1].tokens == 100


def test_batches_are_capped_at_max_tokens() -> None:
    batcher = Batcher(turn_id=1, start=0.0, interval=10.0, max_tokens=16)
    messages = [m for i in range(64) if (m := batcher.add(event(i, 1.0 + i * 1e-5)))]
    assert [m.count for m in messages] == [1, 16, 16, 16]


def test_live_rate_and_sparkline_samples_come_from_event_times() -> None:
    batcher = Batcher(turn_id=1, start=0.0, interval=0.03, sample_every=0.25)
    messages = [m for i in range(1000) if (m := batcher.add(event(i, 1.0 + i * 0.002)))]  # 500 tok/s
    rates = [m.rate for m in messages[3:]]
    assert all(abs(r - 500) < 1 for r in rates)
    samples = [m.sample for m in messages if m.sample is not None]
    assert len(samples) >= 6 and all(abs(s - 500) < 1 for s in samples)


def test_shift_and_cache_length_are_reported() -> None:
    batcher = Batcher(turn_id=1, start=0.0, interval=1.0)
    batcher.add(event(0, 1.0, cache_len=16))
    batcher.add(event(1, 1.001, cache_len=9, shifted=True))
    message = batcher.flush()
    assert message is not None and message.shifted and message.cache_len == 9
    assert batcher.flush() is None


def test_a_slow_ui_gets_bigger_batches_instead_of_a_backlog() -> None:
    ready = threading.Event()
    batcher = Batcher(turn_id=1, start=0.0, interval=0.03, ready=ready.is_set)
    messages = [m for i in range(100) if (m := batcher.add(event(i, 1.0 + i * 0.001)))]
    assert messages == []  # the UI has not handled anything yet: nothing queues up
    ready.set()
    message = batcher.add(event(100, 1.101))
    assert message is not None and message.count == 101


class FakeRun:
    def __init__(self, events, fail_at=None, stats=None):
        self.events, self.fail_at, self.stats = events, fail_at, None
        self._final = stats
        self.skipped_chars, self.prompt_cropped = (), False
        self.closed = False

    def __iter__(self):
        try:
            for i, e in enumerate(self.events):
                if i == self.fail_at:
                    raise RuntimeError("boom")
                yield e
            self.stats = self._final
        finally:
            self.closed = True


class FakeBackend:
    info = None

    def __init__(self, run):
        self.run = run

    def unknown_chars(self, text):
        return []

    def stream(self, request, cancel=None, params_source=None):
        return self.run


STATS = GenStats(
    tokens=3, prompt_tokens=1, prefill_ms=1.0, decode_s=0.002, decode_tokens_per_s=1000.0, stop_reason="length", seed=0
)


def collect(run) -> list:
    posted: list = []

    def post(message):
        if isinstance(message, TokensGenerated):
            message.handled.set()  # what the app does after handling a batch
        posted.append(message)

    run_generation(FakeBackend(run), GenerationRequest("x"), threading.Event(), SamplingParams, post, turn_id=7)
    return posted


def test_run_generation_posts_batches_then_one_finished() -> None:
    posted = collect(FakeRun([event(i, 1.0 + i * 0.001) for i in range(3)], stats=STATS))
    assert isinstance(posted[-1], GenerationFinished)
    assert posted[-1].stats == STATS and posted[-1].error == "" and posted[-1].turn_id == 7
    batches = [m for m in posted if isinstance(m, TokensGenerated)]
    assert "".join(m.text for m in batches) == "字字字"


def test_an_exception_becomes_an_error_finish_and_the_engine_iterator_is_closed() -> None:
    run = FakeRun([event(i, 1.0 + i * 0.001) for i in range(5)], fail_at=2)
    posted = collect(run)
    finished = posted[-1]
    assert isinstance(finished, GenerationFinished)
    assert finished.error == "RuntimeError: boom"
    assert "".join(m.text for m in posted if isinstance(m, TokensGenerated)) == "字字"  # partial text kept
    assert run.closed


def test_load_backend_reports_success_user_errors_and_bugs() -> None:
    posted: list = []
    load_backend(lambda: "backend", "m.safetensors", posted.append)
    assert isinstance(posted[-1], ModelLoaded) and posted[-1].backend == "backend"

    def bad_file():
        raise UserError("m.safetensors: model file not found; pass --model PATH")

    load_backend(bad_file, "m.safetensors", posted.append)
    assert isinstance(posted[-1], ModelLoadFailed)
    assert posted[-1].user_error and "not found" in posted[-1].error and posted[-1].path == "m.safetensors"

    def bug():
        raise KeyError("oops")

    load_backend(bug, "m.safetensors", posted.append)
    assert not posted[-1].user_error and posted[-1].error.startswith("KeyError")
