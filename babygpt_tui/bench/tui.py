"""`babygpt-tui bench tui`: the TUI against `babygpt-tui generate`, measured in one run from outside.

1. decode: a reply of N tokens (1,500 by default) on the model (the bundled one by default) in
   the real app (headless `App.run_test()`) with its real engine child process, timed from Enter
   to the reply's final line on screen, against the decode rate `babygpt-tui generate` reports
   for the same model, seed and settings (threads and OpenMP wait policy too) — interleaved
   repetitions, the ratio of the medians;
2. prefill: a 128-character prompt; the prefill time the TUI's engine reports against the one
   `generate` reports (the UI must not slow the engine down), and Enter to the first token on
   screen (that prefill, the pipe, and the two frames Textual draws: the new turn, then the
   token) — in a reply that goes on (`PREFILL_TOKENS`), as a person sees one start;
3. slider latency while generating: a key press on the temperature slider until the new value is
   on screen and sent to the engine — median of many presses;
4. cold start: a fresh interpreter to the prompt taking keys (torch is never imported there), and
   on to the model loaded in the engine process.

Targets: TUI decode >= 90 % of generate's; prefill within 2x; Enter -> first token < 100 ms (what
a person perceives as at once); slider < 50 ms; prompt < 0.5 s.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

PROMPT = "明月"
SIZE = (110, 32)
SEED = 1
TUI_TARGET, PREFILL_TARGET, FIRST_TARGET_MS, SLIDER_TARGET_MS, COLD_TARGET_S = 0.9, 2.0, 100.0, 50.0, 0.5
# A 2-token reply would end in the frame that shows its first token (the footer, the final gauge):
# not what the start of a reply looks like.
PREFILL_TOKENS = 64
STATS = re.compile(r"prefill ([\d.]+) ms.*?decode ([\d.]+) tok/s")


@dataclass(frozen=True)
class TuiOptions:
    model: str  # the checkpoint both sides generate with
    reps: int = 3
    tokens: int = 1500
    prefill_chars: int = 128
    presses: int = 30
    threads: int = 0  # the engine's torch threads, both sides (0: the engine's default, given to generate too)
    dtype: str = "float32"


async def _until(cond: Callable[[], object], timeout: float = 120, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(step)  # not `pilot.pause`: it would slow the app being measured


def _app(options: TuiOptions, max_new_tokens: int) -> Any:
    from ..api import Load, SamplingParams
    from ..ui.app import BabyGPTApp
    from ..ui.engine_client import ChildProcess, engine_env
    from ..ui.session_controller import StartOptions

    load = Load(options.model, device="cpu", dtype=options.dtype, threads=options.threads)
    params = SamplingParams(max_new_tokens=max_new_tokens)
    return BabyGPTApp(
        load,
        lambda: ChildProcess(env=engine_env(options.threads)),
        params=params,
        options=StartOptions(seed=SEED, autosave=False),
    )


@dataclass(frozen=True)
class TuiReply:
    seconds: float  # Enter -> the reply's final line on screen
    first: float  # Enter -> its first token on screen
    tokens: int
    threads: int  # the torch threads the engine process ran with
    prefill_ms: float  # as the engine process reported it


async def _reply(options: TuiOptions, prompt: str, tokens: int) -> TuiReply:
    """One reply in the TUI, timed from Enter."""
    from textual.widgets import Static

    from ..ui.widgets.transcript import Transcript, TurnView

    app = _app(options, tokens)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.replies.ready)
        app.query_one("#prompt").text = prompt
        await pilot.pause()
        start = time.perf_counter()
        # Watch while the key is pressed: Pilot's press returns only once the app is idle again
        # (~200 ms here), long after the first token was shown, which a person would not wait for.
        press = asyncio.create_task(pilot.press("enter"))
        await _until(lambda: app.chat.turns and app.chat.turns[-1].reply)
        # The first token is drawn once the transcript's reply widget has been composited.
        view = app.query_one(Transcript).query(TurnView).last()
        await _until(lambda: all(_shown(chunk) for chunk in view.query("ReplyChunk")))
        first = time.perf_counter() - start
        await press

        def final_line() -> bool:
            footers = app.query(".turn-footer")
            return bool(footers) and "tok/s" in str(footers.last(Static).render())

        await _until(final_line, 600)
        threads = app.model_info.threads if app.model_info else 0
        turn = app.chat.turns[-1]
        return TuiReply(time.perf_counter() - start, first, turn.tokens, threads, turn.prefill_ms)


def generate_stats(options: TuiOptions, prompt: str, tokens: int) -> tuple[float, float]:
    """(prefill ms, decode tok/s) as `babygpt-tui generate` reports them."""
    argv = [sys.executable, "-m", "babygpt_tui.cli", "generate", "--model", options.model, "--prompt", prompt]
    argv += ["--max-new-tokens", str(tokens), "--seed", str(SEED), "--dtype", options.dtype, "--device", "cpu"]
    if options.threads:
        argv += ["--threads", str(options.threads)]
    from ..ui.engine_client import engine_env

    # The same threads and OpenMP wait policy as the TUI's engine process: the same settings.
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=engine_env(options.threads))
    match = STATS.search(out.stderr)
    if match is None:
        raise RuntimeError(f"no stats line from generate: {out.stderr[-300:]!r}")
    return float(match[1]), float(match[2])


async def slider_latency(options: TuiOptions, presses: int) -> list[float]:
    """ms from posting a key to the slider showing the new value, while a reply streams."""
    from textual import events

    from ..ui.widgets.slider import Slider

    app = _app(options, 100_000)
    out: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.replies.ready)
        app.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        await _until(lambda: len(app.chat.turns[-1].reply) > 20)
        slider = next(s for s in app.query(Slider) if "temp" in (s.id or ""))
        slider.focus()
        await pilot.pause(0.1)
        for i in range(presses):
            before = slider.value
            start = time.perf_counter()
            app._driver.send_message(events.Key("right" if i % 2 == 0 else "left", None))

            def moved(before: float = before) -> bool:
                return slider.value != before and _shown(slider)

            await _until(moved, 10, step=0.001)
            out.append((time.perf_counter() - start) * 1000)
            await pilot.pause(0.05)
        app.action_stop()
        await _until(lambda: not app.chat.generating)
    return out


def _shown(widget: Any) -> bool:
    """What the widget was asked to draw has reached the screen: it has been laid out (a widget
    just mounted has no region yet, and nothing of it is drawn), it asked for its repaint and the
    screen has composited it (Textual's internals: the repaint flag, then the screen's dirty set)."""
    laid_out = bool(widget.region.area)
    return laid_out and not widget._repaint_required and widget not in widget.screen._dirty_widgets


COLD = r"""
import asyncio, sys, time
t0 = time.perf_counter()
from babygpt_tui.api import Load
from babygpt_tui.ui.app import BabyGPTApp
async def main():
    app = BabyGPTApp(Load(sys.argv[1]))
    async with app.run_test(size=(110, 32)) as pilot:
        while not (app.screen.focused is not None and app.screen.focused.id == "prompt"):
            await asyncio.sleep(0.002)
        painted = time.perf_counter() - t0  # the window is up, the prompt takes keys (Enter queues)
        while not app.replies.ready:
            await asyncio.sleep(0.005)
        print(painted, time.perf_counter() - t0, "torch" in sys.modules)
asyncio.run(main())
"""


def cold_start(model: str) -> tuple[float, float]:
    """Seconds from a fresh interpreter to (the prompt taking keys, the model loaded)."""
    out = subprocess.run([sys.executable, "-c", COLD, model], capture_output=True, text=True, check=True)
    painted, loaded, torch_loaded = out.stdout.strip().splitlines()[-1].split()
    assert torch_loaded == "False", "the UI process imported torch"
    return float(painted), float(loaded)


def run_tui_bench(options: TuiOptions, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Every measurement above, as a JSON-ready dict with the targets' PASS/MISS."""
    long_prompt = ("明月几时有把酒问青天不知天上宫阙今夕是何年" * 20)[: options.prefill_chars]
    progress("warm-up")
    asked = options.threads
    # generate gets the threads the TUI's engine chose (it leaves a core to the UI): the same settings
    options = replace(options, threads=asyncio.run(_reply(options, PROMPT, 32)).threads or asked)
    generate_stats(options, PROMPT, 32)
    cli: list[float] = []
    tui: list[float] = []
    for rep in range(options.reps):  # interleaved: a slow spell hits both
        progress(f"decode, repetition {rep + 1} of {options.reps}")
        cli.append(generate_stats(options, PROMPT, options.tokens)[1])
        reply = asyncio.run(_reply(options, PROMPT, options.tokens))
        tui.append(reply.tokens / reply.seconds)
    progress("prefill")
    cli_prefill: list[float] = []
    tui_prefill: list[float] = []
    tui_first: list[float] = []
    for _ in range(options.reps):
        cli_prefill.append(generate_stats(options, long_prompt, 2)[0])
        reply = asyncio.run(_reply(options, long_prompt, PREFILL_TOKENS))
        tui_prefill.append(reply.prefill_ms)
        tui_first.append(reply.first * 1000)
    progress("slider latency")
    latency = asyncio.run(slider_latency(options, options.presses))
    progress("cold start")
    cold = [cold_start(options.model) for _ in range(options.reps)]  # a median, as for the rest
    ratio = statistics.median(tui) / statistics.median(cli)
    prefill = statistics.median(tui_prefill) / statistics.median(cli_prefill)
    first = statistics.median(tui_first)
    slider_ms = statistics.median(latency)
    painted, loaded = statistics.median(c[0] for c in cold), statistics.median(c[1] for c in cold)
    targets = [
        _target(
            "TUI / generate decode",
            ratio,
            TUI_TARGET,
            f"{ratio * 100:.0f} % ({statistics.median(tui):.0f} vs {statistics.median(cli):.0f} tok/s)",
        ),
        _target(
            f"{options.prefill_chars}-char prefill, TUI / generate",
            -prefill,
            -PREFILL_TARGET,
            f"{prefill:.1f}x ({statistics.median(tui_prefill):.1f} vs {statistics.median(cli_prefill):.1f} ms)",
        ),
        _target(
            "Enter -> first token on screen",
            -first,
            -FIRST_TARGET_MS,
            f"{first:.0f} ms ({first / statistics.median(cli_prefill):.1f}x generate's prefill)",
        ),
        _target("slider key -> shown (median)", -slider_ms, -SLIDER_TARGET_MS, f"{slider_ms:.1f} ms"),
        _target("launch -> prompt takes keys", -painted, -COLD_TARGET_S, f"{painted:.2f} s (no torch in the UI)"),
        {"name": "launch -> model loaded", "shown": f"{loaded:.2f} s (engine process)", "status": ""},
    ]
    return {
        "model": os.path.basename(options.model),
        "threads": options.threads,  # what both sides ran with
        "threads_asked": asked,  # 0: the engine's default
        "dtype": options.dtype,
        "tokens": options.tokens,
        "reps": options.reps,
        "generate_tok_s": cli,
        "tui_tok_s": tui,
        "tui_over_generate": ratio,
        "generate_prefill_ms": cli_prefill,
        "tui_prefill_ms": tui_prefill,
        "tui_first_token_ms": tui_first,
        "slider_ms": latency,
        "cold_start_s": [list(c) for c in cold],
        "targets": targets,
    }


def _target(name: str, value: float, goal: float, shown: str) -> dict[str, Any]:
    """A target met when value >= goal (a maximum is passed negated)."""
    return {"name": name, "shown": shown, "status": "PASS" if value >= goal else "MISS"}


def render_tui_bench(doc: dict[str, Any]) -> str:
    default = " (the engine's default: a core left to the UI)"
    threads = f"{doc['threads']}" + ("" if doc.get("threads_asked") else default)
    lines = [
        f"TUI vs `babygpt-tui generate`: {doc['model']}, {doc['dtype']}, threads {threads}, "
        f"{doc['tokens']} tokens, median of {doc['reps']}, timed from outside"
    ]
    lines += [f"  {t['name']:<34} {t['shown']:<40} {t['status']}" for t in doc["targets"]]
    return "\n".join(lines)


if __name__ == "__main__":
    from ..cli import main

    sys.exit(main(["bench", "tui", *sys.argv[1:]]))
