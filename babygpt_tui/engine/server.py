"""The engine process: owns the model, the KV cache and the decode loop; the TUI is its client.

Started by the TUI (`babygpt-tui engine --stdio`, which you can also run by hand to debug). It
speaks protocol version `api.PROTOCOL_VERSION`: one JSON object per line, `{"type": NAME, ...}`,
requests on stdin, events on stdout (stderr is for tracebacks and crashes, never for messages).
The message types and their fields are the dataclasses at the end of `api.py`.

    engine → hello {protocol, pid}                          first line, once
    load {model, vocab_from, device, dtype, threads}  → loaded {info, seconds} | error {op, message, user_error}
    generate {turn, request, schedule}                → started {turn, skipped_chars, prompt_cropped}
                                                        tokens {turn, text, records, params_changes, …} …
                                                        finished {turn, stats, error}
    params {params}       the knobs for the next token of the running reply (live knobs)
    ack {turn}            the last `tokens` of this turn is drawn: the next may be sent
    cancel {turn}         stop that reply at its next token (it finishes with stop_reason "stopped")
    explain {id, context, char, window, params, top, seed} → explained {id, explanation, error}
    watch {pipeline, top} while on, `tokens` carry `pipeline`: the sampler stages of a recent step
    shutdown              exit (so does closing stdin: the engine never outlives the TUI)
    engine → log {level, message}                           warnings, at any time

One request at a time is worked on (load and generate run in order on the main thread, the only
one that calls torch); `params`, `ack` and `cancel` are read by a second thread and act at once,
so Esc is never queued behind the reply it stops. A batch of tokens is sent every ~30 ms and only
after the previous one was acknowledged; while the UI is busy the next batch grows instead.

`explain` is answered between two tokens of a running reply (or at once when idle), and only the
newest one waiting is: the UI asks again as its cursor moves and reads only the latest answer.
The watch costs a running reply one function call per token, plus one pipeline (a few softmaxes
over the vocabulary) every `WATCH_EVERY` seconds — `babygpt-tui bench explain` measures it.
"""

from __future__ import annotations

import faulthandler
import os
import queue
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import IO, Any

from ..api import (
    PROTOCOL_VERSION,
    Ack,
    Backend,
    Cancel,
    EngineFailed,
    Event,
    Explain,
    Explained,
    Finished,
    Generate,
    Hello,
    Load,
    Loaded,
    Log,
    ParamsHolder,
    ParamsSchedule,
    ProtocolError,
    SamplingParams,
    SetParams,
    Shutdown,
    Started,
    TokenBatch,
    Watch,
    from_wire,
    to_wire,
)
from ..batching import Batcher
from ..errors import UserError
from ..explanation import StepStages

Loader = Callable[[Load], Backend]
EXIT_GRACE = 2.0  # seconds the engine may take to finish after stdin closed, before it just exits
WATCH_EVERY = 0.1  # seconds between two watched steps' pipelines (the view redraws at most 10/s)


def schedule_source(schedule: ParamsSchedule, start: SamplingParams) -> Callable[[], SamplingParams]:
    """A params source that replays knobs as they were at each step (a replay of a stored turn)."""
    changes = dict(schedule)
    step, current = 0, start

    def source() -> SamplingParams:
        nonlocal step, current
        current = changes.get(step, current)
        step += 1
        return current

    return source


class EngineServer:
    def __init__(self, out: IO[str], loader: Loader, token_delay: float = 0.0) -> None:
        self.out, self.loader, self.token_delay = out, loader, token_delay
        self.backend: Backend | None = None
        self.params = ParamsHolder()
        self.work: queue.Queue[Load | Generate | Explain | Shutdown] = queue.Queue()
        self._cancels: dict[int, threading.Event] = {}
        self._acks: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self.closed = False
        self._explains: deque[Explain] = deque()  # waiting for the main thread (newest last)
        self.watch = Watch(pipeline=False)
        self._watched: StepStages | None = None  # the latest watched step, for the next batch
        self._watch_due = 0.0  # perf_counter() time from which the next step is watched

    # ----- the reader thread: requests that act at once, the rest queued in order -------------
    def read(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            try:
                message = from_wire(line)
            except ProtocolError as e:
                self.send(Log("warning", f"engine: ignored a line that is not a request ({e})"))
                continue
            if isinstance(message, Generate):
                self._cancels[message.turn] = threading.Event()
                self.params.set(message.request.params)  # in pipe order with the `params` around it
                self.work.put(message)
            elif isinstance(message, SetParams):
                self.params.set(message.params)
            elif isinstance(message, Cancel):
                if (cancel := self._cancels.get(message.turn)) is not None:
                    cancel.set()
            elif isinstance(message, Ack):
                if (ack := self._acks.get(message.turn)) is not None:
                    ack.set()
            elif isinstance(message, Explain):
                self._explains.append(message)
                self.work.put(message)  # wakes the main thread when idle; a reply answers it sooner
            elif isinstance(message, Watch):
                self.watch = message
            elif isinstance(message, Load | Shutdown):
                self.work.put(message)
            else:
                self.send(Log("warning", f"engine: {type(message).__name__} is an event, not a request"))
        self.stop()  # stdin closed: the TUI is gone or done

    def stop(self) -> None:
        """Cancel everything and let the main thread exit."""
        for cancel in list(self._cancels.values()):
            cancel.set()
        self.work.put(Shutdown())

    def send(self, event: Event) -> None:
        line = to_wire(event)
        with self._lock:
            if self.closed:
                return
            try:
                self.out.write(line)
                self.out.flush()
            except (OSError, ValueError):  # the TUI is gone (a broken pipe, a closed file)
                self.closed = True
        if self.closed:
            self.stop()

    # ----- the main thread: every torch call ---------------------------------------------------
    def serve(self) -> None:
        self.send(Hello(PROTOCOL_VERSION, os.getpid()))
        while True:
            work = self.work.get()
            if isinstance(work, Shutdown):
                return
            if isinstance(work, Load):
                self._load(work)
            elif isinstance(work, Explain):
                self._answer_explains()
            elif not self.closed:
                self._generate(work)

    def _load(self, request: Load) -> None:
        start = time.perf_counter()
        if request.compile:  # compiling takes seconds to minutes: say so while it runs
            self.send(Log("status", "compiling the decode step…"))
        try:
            backend = self.loader(request)
        except UserError as e:
            self.send(EngineFailed("load", str(e), user_error=True))
        except Exception as e:  # a bug: the UI shows it, the traceback goes to stderr
            traceback.print_exc()
            self.send(EngineFailed("load", f"{type(e).__name__}: {e}", user_error=False))
        else:
            self.backend = backend
            if note := getattr(backend, "compile_note", ""):  # no compiler here: one line, then eager
                self.send(Log("warning", note))
            self.send(Loaded(backend.info, time.perf_counter() - start))

    def _generate(self, work: Generate) -> None:
        turn, request = work.turn, work.request
        cancel = self._cancels.setdefault(turn, threading.Event())
        ack = self._acks[turn] = threading.Event()
        ack.set()
        source = schedule_source(work.schedule, request.params) if work.schedule else self.params.get
        start = time.perf_counter()
        batcher: Batcher | None = None
        run: Any = None
        events: Any = None
        error = ""
        try:
            if self.backend is None:
                raise UserError("no model is loaded")
            request.params.validate()
            run = self.backend.stream(request, cancel, source)
            self._watch_run(run)
            records = request.top_alternatives > 0
            # the engine's own runs make a batch's alternatives at once, when it is sent
            defer = getattr(run, "defer_alternatives", None) if records else None
            batcher = Batcher(
                turn,
                start,
                ready=ack.is_set,
                forced=len(request.forced_prefix),
                records=records,
                windows=True,
                make_records=defer() if defer is not None else None,
            )
            self.send(Started(turn, tuple(run.skipped_chars), bool(run.prompt_cropped)))
            events = iter(run)
            for event in events:
                if self.token_delay:
                    time.sleep(self.token_delay)
                if (batch := batcher.add(event)) is not None:
                    ack.clear()
                    self.send(self._with_watched(batch))
                if self._explains:
                    self._answer_explains()
        except (UserError, ValueError) as e:
            error = str(e)
        except Exception as e:  # the reply ends as an error; the engine keeps serving
            traceback.print_exc()
            error = f"{type(e).__name__}: {e}"
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # a suspended engine generator would keep holding the model's lock
        try:  # the last tokens' records are made here, outside the loop's own guard
            if batcher is not None and (batch := batcher.flush()) is not None:
                self.send(self._with_watched(batch))
        except Exception as e:  # the reply ends as an error; the engine keeps serving
            traceback.print_exc()
            error = error or f"{type(e).__name__}: {e}"
        self._watched = None
        self.send(Finished(turn, getattr(run, "stats", None), error))
        self._cancels.pop(turn, None)
        self._acks.pop(turn, None)

    # ----- explain and the pipeline watch (main thread) ---------------------------------------
    def _answer_explains(self) -> None:
        """Answer the newest waiting `explain`; the older ones are moot (the UI moved on)."""
        latest: Explain | None = None
        while self._explains:
            latest = self._explains.popleft()
        if latest is None:
            return
        explain = getattr(self.backend, "explain", None)
        try:
            if self.backend is None:
                raise UserError("no model is loaded")
            if explain is None:
                raise UserError("this engine cannot look inside its model")
            latest.params.validate()
            result = explain(latest.context, latest.char, latest.window, latest.params, latest.top, latest.seed)
        except (UserError, ValueError) as e:
            self.send(Explained(latest.id, None, str(e)))
        except Exception as e:  # a bug: said in the answer, the traceback on stderr; the engine goes on
            traceback.print_exc()
            self.send(Explained(latest.id, None, f"{type(e).__name__}: {e}"))
        else:
            self.send(Explained(latest.id, result))

    def _watch_run(self, run: Any) -> None:
        """Have a run of the engine's Generator report its steps to the watch (others cannot)."""
        tokenizer = getattr(getattr(run, "gen", None), "tokenizer", None)
        if tokenizer is not None and hasattr(run, "tap"):
            self._watch_due = 0.0  # a reply's first step is shown at once
            run.tap = partial(self._tap, tokenizer.chars)

    def _tap(
        self, chars: Sequence[str], raw: Any, params: SamplingParams, history: list[int], token: int, step: int
    ) -> None:
        """Called at every step of a running reply: the pipeline of one step per WATCH_EVERY."""
        watch = self.watch
        if not watch.pipeline:
            return
        now = time.perf_counter()
        if now < self._watch_due:
            return
        self._watch_due = now + WATCH_EVERY
        from .explain import step_stages  # torch: imported once a reply is watched

        self._watched = step_stages(raw, params, history, chars, token, step, watch.top)

    def _with_watched(self, batch: TokenBatch) -> TokenBatch:
        watched, self._watched = self._watched, None
        return batch if watched is None or not self.watch.pipeline else replace(batch, pipeline=watched)


def _warn_as_log(server: EngineServer) -> None:
    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        server.send(Log("warning", f"{category.__name__}: {message}"))

    warnings.showwarning = show


def serve_stdio(loader: Loader, token_delay: float = 0.0) -> int:
    """Run the engine on this process's stdin/stdout until stdin closes or `shutdown` arrives."""
    faulthandler.enable()  # a segfault in torch prints where it happened on stderr
    # The protocol gets its own copy of stdout; fd 1 then points at stderr, so a stray print
    # (from torch, a library, a debugging line) can never break a message.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="ascii", buffering=1 << 16)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    server = EngineServer(out, loader, token_delay)
    _warn_as_log(server)
    reader = threading.Thread(target=_read_then_exit, args=(server,), name="engine-stdin", daemon=True)
    reader.start()
    server.serve()
    return 0


def _read_then_exit(server: EngineServer) -> None:
    server.read(sys.stdin)
    # stdin is closed: give the main thread a moment to finish what it is doing, then go, even if
    # it is stuck in a long load (the TUI has gone; nobody would read what it says).
    time.sleep(EXIT_GRACE)
    os._exit(0)


def load_model(request: Load) -> Backend:
    """The real loader: a Generator on the requested device, dtype and threads (imports torch)."""
    from .device import set_threads
    from .generate import Generator

    set_threads(request.threads, leave_a_core=True)  # the TUI draws on the core left
    return Generator.load(
        request.model, request.vocab_from, device=request.device, dtype=request.dtype, compile=request.compile
    )
