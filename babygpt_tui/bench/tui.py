"""`babygpt-tui bench tui`: the TUI's own overhead, measured in one run.

1. decode tokens/s inside the TUI (headless `App.run_test()`, N tokens, reference-size model) as a
   ratio of the bare engine on the same model and settings, in interleaved repetitions;
2. slider latency while generating: a key press on the temperature slider until the new value is
   on screen (rendered) and in the params the engine reads — median of many presses;
3. cold start: a fresh interpreter, from `import babygpt_tui.ui.app` to the prompt taking keys, and
   on to the model loaded (a prompt typed before then runs as soon as it is), with the bundled
   model (torch import and model load included).

Targets: TUI >= 90 % of the engine; slider < 50 ms median; cold start < 2 s.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..api import GenerationRequest, SamplingParams
from ..engine.generate import Generator
from ..engine.model import BabyGPT, ModelConfig
from ..engine.reference import REFERENCE
from ..engine.tokenizer import CharTokenizer

PROMPT = "明月"
SIZE = (110, 32)
TUI_TARGET, SLIDER_TARGET_MS, COLD_TARGET_S = 0.9, 50.0, 2.0


@dataclass(frozen=True)
class TuiOptions:
    reps: int = 5
    tokens: int = 500
    presses: int = 30
    dtype: str = "float32"
    cold_model: str | None = None  # the model for the cold start; None skips it
    threads: int = 0  # the bare engine's torch threads (0: torch's default)
    reference: ModelConfig = REFERENCE  # the random-weight model both sides decode with


def reference_generator(cfg: ModelConfig, dtype: str) -> Generator:
    torch.manual_seed(0)
    model = BabyGPT(cfg)
    model.init_weights(0)
    chars = [chr(0x4E00 + i) for i in range(cfg.vocab_size - 1)] + ["\n"]
    return Generator(model, CharTokenizer(sorted(chars)), device="cpu", dtype=dtype, name="reference")


def engine_rate(gen: Generator, params: SamplingParams) -> float:
    run = gen.stream(GenerationRequest(PROMPT, params, seed=1))
    for _ in run:
        pass
    assert run.stats is not None
    return run.stats.decode_tokens_per_s


async def _until(cond: Callable[[], object], timeout: float = 60, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        # Not `pilot.pause`: it posts a callback to every widget per poll, which would slow the
        # app being measured. The app runs in this event loop while we sleep.
        await asyncio.sleep(step)


async def tui_rate(gen: Generator, params: SamplingParams, threads: int) -> float:
    from ..ui.app import BabyGPTApp

    def loader() -> Generator:  # like `babygpt-tui`'s: one core left to the UI (commands/common.py)
        torch.set_num_threads(max(1, threads - 1))
        return gen

    app = BabyGPTApp(loader=loader, params=params)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.backend is not None)
        app.query_one("#prompt").text = PROMPT  # type: ignore[attr-defined]
        await pilot.press("enter")
        await _until(lambda: app.chat.turns and app.chat.turns[-1].stop_reason is not None, 600)
        return app.chat.turns[-1].decode_tokens_per_s


async def slider_latency(gen: Generator, presses: int) -> list[float]:
    """ms from posting a key to the slider showing the new value, while a reply streams."""
    from textual import events

    from ..ui.app import BabyGPTApp
    from ..ui.widgets.slider import Slider

    app = BabyGPTApp(loader=lambda: gen, params=SamplingParams(max_new_tokens=100_000))
    out: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.backend is not None)
        app.query_one("#prompt").text = PROMPT  # type: ignore[attr-defined]
        await pilot.press("enter")
        await _until(lambda: len(app.chat.turns[-1].reply) > 20)
        slider = next(s for s in app.query(Slider) if "temp" in (s.id or ""))
        slider.focus()
        await pilot.pause(0.1)
        for i in range(presses):
            before = slider.value
            start = time.perf_counter()
            app._driver.send_message(events.Key("right" if i % 2 == 0 else "left", None))  # type: ignore[union-attr]

            def moved(before: float = before) -> bool:
                return slider.value != before and _shown(slider)

            await _until(moved, 10, step=0.001)
            out.append((time.perf_counter() - start) * 1000)
            await pilot.pause(0.05)
        app.action_stop()
        await _until(lambda: not app.chat.generating)
    return out


def _shown(slider: Any) -> bool:
    """The new value has reached the screen: the widget asked for its repaint and the screen
    has composited it (Textual's internals: the repaint flag, then the screen's dirty set)."""
    return not slider._repaint_required and slider not in slider.screen._dirty_widgets


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


def cold_start(model: str) -> tuple[float, float]:
    """Seconds from a fresh interpreter to (the prompt taking keys, the model loaded)."""
    out = subprocess.run([sys.executable, "-c", COLD, "--model", model], capture_output=True, text=True, check=True)
    painted, loaded = out.stdout.strip().splitlines()[-1].split()
    return float(painted), float(loaded)


def run_tui_bench(options: TuiOptions, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Every measurement above, as a JSON-ready dict with the targets' PASS/MISS."""
    # All torch work on the app's engine thread, the bare engine's too: a second thread calling
    # into torch would bring a second OpenMP team that slows both (see ui/worker.py).
    from ..ui.worker import ENGINE

    threads = options.threads or torch.get_num_threads()
    ref = options.reference
    progress(f"reference model {ref.n_layer}x{ref.n_embd}, {options.dtype}")
    gen = ENGINE.submit(reference_generator, ref, options.dtype).result()
    params = SamplingParams(temperature=0.8, max_new_tokens=options.tokens)
    warm = SamplingParams(max_new_tokens=32)
    ENGINE.submit(engine_rate, gen, warm).result()
    asyncio.run(tui_rate(gen, warm, threads))
    engine, tui = [], []
    for rep in range(options.reps):  # interleaved: a slow spell hits both
        progress(f"decode, repetition {rep + 1} of {options.reps}")
        ENGINE.submit(torch.set_num_threads, threads).result()  # the bare engine: all cores
        engine.append(ENGINE.submit(engine_rate, gen, params).result())
        tui.append(asyncio.run(tui_rate(gen, params, threads)))
    progress("slider latency")
    latency = asyncio.run(slider_latency(gen, options.presses))
    cold = []
    if options.cold_model:
        progress("cold start")
        cold = [cold_start(options.cold_model) for _ in range(3)]
    ratio = statistics.median(tui) / statistics.median(engine)
    slider_ms = statistics.median(latency)
    targets = [
        _target(
            "TUI / engine decode",
            ratio,
            TUI_TARGET,
            f"{ratio * 100:.0f} % ({statistics.median(tui):.0f} vs {statistics.median(engine):.0f} tok/s)",
        ),
        _target("slider key -> shown (median)", -slider_ms, -SLIDER_TARGET_MS, f"{slider_ms:.1f} ms"),
    ]
    if cold:
        painted, loaded = statistics.median(c[0] for c in cold), statistics.median(c[1] for c in cold)
        targets.append(_target("cold start -> prompt takes keys", -painted, -COLD_TARGET_S, f"{painted:.2f} s"))
        targets.append(
            _target("cold start -> model loaded", -loaded, -COLD_TARGET_S, f"{loaded:.2f} s (torch import included)")
        )
    return {
        "reference": {"n_layer": ref.n_layer, "n_embd": ref.n_embd},
        "threads": threads,
        "tui_threads": max(1, threads - 1),
        "dtype": options.dtype,
        "tokens": options.tokens,
        "reps": options.reps,
        "engine_tok_s": engine,
        "tui_tok_s": tui,
        "tui_over_engine": ratio,
        "slider_ms": latency,
        "cold_start_s": [list(c) for c in cold],
        "targets": targets,
    }


def _target(name: str, value: float, goal: float, shown: str) -> dict[str, Any]:
    """A target met when value >= goal (a maximum is passed negated)."""
    return {"name": name, "shown": shown, "status": "PASS" if value >= goal else "MISS"}


def render_tui_bench(doc: dict[str, Any]) -> str:
    ref = doc["reference"]
    lines = [
        f"TUI overhead: reference model {ref['n_layer']}x{ref['n_embd']}, {doc['dtype']}, engine "
        f"{doc['threads']} threads, TUI {doc['tui_threads']}, {doc['tokens']} tokens, median of {doc['reps']}"
    ]
    lines += [f"  {t['name']:<32} {t['shown']:<36} {t['status']}" for t in doc["targets"]]
    return "\n".join(lines)


if __name__ == "__main__":
    from ..cli import main

    sys.exit(main(["bench", "tui", *sys.argv[1:]]))
