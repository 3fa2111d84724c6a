"""TUI overhead, measured in one run (issue #7):

1. decode tokens/s inside the TUI (headless `App.run_test()`, 500 tokens, reference-size model)
   as a ratio of the bare engine on the same model, same settings, interleaved repetitions;
2. slider latency while generating: a key press on the temperature slider until the new value is
   on screen (rendered) and in the params the engine reads — median of many presses;
3. cold start: a fresh interpreter, from `import babygpt_tui.ui.app` to the prompt taking keys, and on
   to the model loaded (a prompt typed before then runs as soon as it is), with the
   bundled model loaded (torch import and model load included).

    python benchmarks/bench_tui.py [--reps N] [--tokens N] [--json PATH] [--model PATH]

Targets: TUI >= 90 % of the engine; slider < 50 ms median; cold start < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _bootstrap  # noqa: F401  (repo root on sys.path for a fresh clone)
import torch

# The app autosaves sessions and reads config.toml: keep the benchmark's away from the user's.
os.environ["BABYGPT_TUI_HOME"] = tempfile.mkdtemp(prefix="babygpt-tui-bench-")

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.commands.common import bundled_model_path
from babygpt_tui.engine.generate import Generator
from babygpt_tui.engine.model import BabyGPT, ModelConfig
from babygpt_tui.engine.tokenizer import CharTokenizer
from babygpt_tui.ui.worker import ENGINE

PROMPT = "明月"
DEFAULT_THREADS = torch.get_num_threads()
REFERENCE = ModelConfig(vocab_size=6148, block_size=256, n_embd=384, n_layer=6, n_head=6)


def reference_generator(dtype: str) -> Generator:
    torch.manual_seed(0)
    model = BabyGPT(REFERENCE)
    model.init_weights(0)
    chars = [chr(0x4E00 + i) for i in range(REFERENCE.vocab_size - 1)] + ["\n"]
    return Generator(model, CharTokenizer(sorted(chars)), device="cpu", dtype=dtype, name="reference")


def engine_rate(gen: Generator, params: SamplingParams) -> float:
    run = gen.stream(GenerationRequest(PROMPT, params, seed=1))
    for _ in run:
        pass
    return run.stats.decode_tokens_per_s


async def tui_rate(gen: Generator, params: SamplingParams) -> float:
    from babygpt_tui.ui.app import BabyGPTApp

    def loader() -> Generator:  # like `babygpt-tui`'s: one core left to the UI (commands/common.py)
        torch.set_num_threads(max(1, DEFAULT_THREADS - 1))
        return gen

    app = BabyGPTApp(loader=loader, params=params)
    async with app.run_test(size=(110, 32)) as pilot:
        await _until(pilot, lambda: app.backend is not None)
        app.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        await _until(pilot, lambda: app.chat.turns and app.chat.turns[-1].stop_reason is not None, 600)
        return app.chat.turns[-1].decode_tokens_per_s


async def slider_latency(gen: Generator, presses: int) -> list[float]:
    """ms from posting a key to the slider showing the new value, while a reply streams."""
    from textual import events

    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.widgets.slider import Slider

    app = BabyGPTApp(loader=lambda: gen, params=SamplingParams(max_new_tokens=100_000))
    out = []
    async with app.run_test(size=(110, 32)) as pilot:
        await _until(pilot, lambda: app.backend is not None)
        app.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        await _until(pilot, lambda: len(app.chat.turns[-1].reply) > 20)
        slider = next(s for s in app.query(Slider) if "temp" in (s.id or ""))
        slider.focus()
        await pilot.pause(0.1)
        for i in range(presses):
            key = "right" if i % 2 == 0 else "left"
            before = slider.value
            start = time.perf_counter()
            event = events.Key(key, None)
            app._driver.send_message(event)  # as the terminal driver delivers a real key press
            await _until(pilot, lambda: slider.value != before and _shown(slider), 10, step=0.001)
            out.append((time.perf_counter() - start) * 1000)
            await pilot.pause(0.05)
        app.action_stop()
        await _until(pilot, lambda: not app.chat.generating)
    return out


def _shown(slider) -> bool:
    """The new value has reached the screen: the widget asked for its repaint and the screen
    has composited it (Textual's internals: the repaint flag, then the screen's dirty set)."""
    return not slider._repaint_required and slider not in slider.screen._dirty_widgets


async def _until(pilot, cond, timeout: float = 60, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        # Not `pilot.pause`: it posts a callback to every widget per poll, which would slow the
        # app being measured. The app runs in this event loop while we sleep.
        await asyncio.sleep(step)


COLD = r"""
import asyncio, sys, time
t0 = time.perf_counter()
from babygpt_tui.ui.app import BabyGPTApp
from babygpt_tui.commands.tui import make_loader
from babygpt_tui.cli import build_parser
args = build_parser().parse_args(sys.argv[1:])
async def main():
    app = BabyGPTApp(loader=make_loader(args))
    async with app.run_test(size=(110, 32)) as pilot:
        while not (app.screen.focused is not None and app.screen.focused.id == "prompt"):
            await asyncio.sleep(0.002)
        painted = time.perf_counter() - t0  # the window is up, the prompt takes keys (Enter queues)
        while app.backend is None:
            await asyncio.sleep(0.005)
        print(painted, time.perf_counter() - t0)
asyncio.run(main())
"""


def cold_start(model: str | None) -> tuple[float, float]:
    """Seconds from a fresh interpreter to (the prompt taking keys, the model loaded)."""
    argv = ["--model", model] if model else []
    out = subprocess.run([sys.executable, "-c", COLD, *argv], capture_output=True, text=True, check=True)
    painted, loaded = out.stdout.strip().splitlines()[-1].split()
    return float(painted), float(loaded)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--presses", type=int, default=30)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--model", default=None, help="model for the cold start (default: the bundled one)")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    # All torch work on the app's engine thread, the bare engine's too: a second thread calling
    # into torch would bring a second OpenMP team that slows both (see ui/worker.py).
    gen = ENGINE.submit(reference_generator, args.dtype).result()
    params = SamplingParams(temperature=0.8, max_new_tokens=args.tokens)
    ENGINE.submit(engine_rate, gen, SamplingParams(max_new_tokens=32)).result()  # warm-up
    asyncio.run(tui_rate(gen, SamplingParams(max_new_tokens=32)))
    engine, tui = [], []
    for _ in range(args.reps):  # interleaved: a slow spell hits both
        ENGINE.submit(torch.set_num_threads, DEFAULT_THREADS).result()  # the bare engine: all cores
        engine.append(ENGINE.submit(engine_rate, gen, params).result())
        tui.append(asyncio.run(tui_rate(gen, params)))
    latency = asyncio.run(slider_latency(gen, args.presses))
    model = args.model or (str(bundled_model_path()) if bundled_model_path().exists() else None)
    cold = [cold_start(model) for _ in range(3)] if model else []
    painted, loaded = [c[0] for c in cold], [c[1] for c in cold]
    result = {
        "threads": DEFAULT_THREADS,
        "tui_threads": max(1, DEFAULT_THREADS - 1),
        "dtype": args.dtype,
        "tokens": args.tokens,
        "engine_tok_s": engine,
        "tui_tok_s": tui,
        "tui_over_engine": statistics.median(tui) / statistics.median(engine),
        "slider_ms": latency,
        "slider_ms_median": statistics.median(latency),
        "cold_start_prompt_s": painted,
        "cold_start_model_s": loaded,
        "cold_start_s_median": statistics.median(painted) if cold else None,
        "cold_start_model_s_median": statistics.median(loaded) if cold else None,
    }
    rows = [
        (
            "TUI / engine decode",
            f"{result['tui_over_engine'] * 100:.0f} %  "
            f"({statistics.median(tui):.0f} vs {statistics.median(engine):.0f} tok/s)",
            result["tui_over_engine"] >= 0.9,
        ),
        ("slider key -> shown (median)", f"{result['slider_ms_median']:.1f} ms", result["slider_ms_median"] < 50),
    ]
    if cold:
        rows.append(
            (
                "cold start -> prompt takes keys",
                f"{result['cold_start_s_median']:.2f} s",
                result["cold_start_s_median"] < 2,
            )
        )
        rows.append(
            (
                "cold start -> model loaded",
                f"{result['cold_start_model_s_median']:.2f} s (torch import included)",
                result["cold_start_model_s_median"] < 2,
            )
        )
    print(
        f"TUI overhead: reference model {REFERENCE.n_layer}x{REFERENCE.n_embd}, {args.dtype}, "
        f"engine {DEFAULT_THREADS} threads, TUI {max(1, DEFAULT_THREADS - 1)}, {args.tokens} tokens, median of {args.reps}"
    )
    for name, value, ok in rows:
        print(f"  {name:<30} {value:<32} {'PASS' if ok else 'MISS'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
