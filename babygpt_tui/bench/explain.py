"""`babygpt-tui bench explain`: decode speed with the sampler pipeline view (F9) open against
closed, in the real app (headless `App.run_test()`) with its real engine child process, in one run.

With the view open the engine watches the reply: every token calls its tap, and at most every
0.1 s one step's sampler stages are computed and sent in a batch, which the view draws. Each
repetition runs four replies in one app, view closed, open, open, closed (so a slow spell
hits both), the same prompt, seed and settings each time. Decode tok/s is the engine's own
figure for the reply (its GenStats); tokens/s on screen (Enter to the reply's last line drawn)
is reported beside it.

Targets: decode with the view open >= 95 % of closed (ratio of the medians); the view redrawn at
most 10 times a second while the reply streams. Beside them, each process's CPU time per token,
open / closed: on a busy machine the wall-clock rates swing by ±20 % from reply to reply, the CPU
a token costs much less, so that line shows what the view itself costs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .tui import PROMPT, SIZE, TuiOptions, _app, _until

RATIO_TARGET = 0.95
REDRAWS_TARGET = 10.0  # per second, at most


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0.0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def replies(options: TuiOptions, order: list[bool]) -> list[dict[str, float]]:
    """One app, one engine: a reply of `options.tokens` tokens per entry of `order`, with the
    pipeline view open (True) or closed; per reply the engine's decode tok/s, tokens/s on
    screen, and the view's live redraws per second."""
    from ..ui.widgets.pipeline import PipelineView

    app = _app(options, options.tokens)
    out: list[dict[str, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.replies.ready)
        view = app.query_one(PipelineView)
        show = view.show
        steps: list[int] = []

        def counted(state: Any) -> None:
            if state.live is not None and (not steps or steps[-1] != state.live.step):
                steps.append(state.live.step)
            show(state)

        view.show = counted  # counts the live redraws it asks for
        for pipeline in order:
            if app.explainer.pipeline != pipeline:
                await pilot.press("f9")
            steps.clear()
            app.query_one("#prompt").text = PROMPT
            await pilot.pause()
            done = len(app.chat.turns) + 1
            start, ui_cpu, engine_cpu = time.perf_counter(), time.process_time(), cpu_seconds(app.engine.pid)
            await pilot.press("enter")

            def ended(n: int = done) -> bool:
                return len(app.chat.turns) == n and app.chat.turns[-1].stop_reason is not None

            await _until(ended, 600)
            seconds = time.perf_counter() - start
            turn = app.chat.turns[-1]
            out.append(
                {
                    "decode_tok_s": turn.decode_tokens_per_s,
                    "screen_tok_s": turn.tokens / seconds,
                    "redraws_per_s": len(steps) / seconds,
                    # CPU per token: what the view costs each process, whatever else the machine runs
                    "ui_cpu_ms_per_token": (time.process_time() - ui_cpu) * 1000 / turn.tokens,
                    "engine_cpu_ms_per_token": (cpu_seconds(app.engine.pid) - engine_cpu) * 1000 / turn.tokens,
                }
            )
    return out


def run_explain_bench(options: TuiOptions, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Both sides in one app, closed-open-open-closed per repetition (a drift of the machine's
    load hits both alike), as a JSON-ready dict with the targets' PASS/MISS."""
    progress("warm-up")
    asyncio.run(replies(replace(options, tokens=32), [True, False]))
    progress(f"{options.reps} x closed, open, open, closed: {options.tokens} tokens each")
    order = [False, True, True, False] * options.reps
    rows = asyncio.run(replies(options, order))
    closed = [row for row, pipeline in zip(rows, order, strict=True) if not pipeline]
    opened = [row for row, pipeline in zip(rows, order, strict=True) if pipeline]

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    ratio = median(opened, "decode_tok_s") / median(closed, "decode_tok_s")
    redraws = max(row["redraws_per_s"] for row in opened)
    targets = [
        {
            "name": "decode, pipeline view open / closed",
            "value": ratio,
            "goal": RATIO_TARGET,
            "shown": f"{ratio * 100:.1f} % ({median(opened, 'decode_tok_s'):,.0f} vs "
            f"{median(closed, 'decode_tok_s'):,.0f} tok/s)",
            "status": "PASS" if ratio >= RATIO_TARGET else "MISS",
        },
        {
            "name": "pipeline redraws while streaming",
            "value": redraws,
            "goal": REDRAWS_TARGET,
            "shown": f"{redraws:.1f} per s at most (target <= {REDRAWS_TARGET:.0f})",
            "status": "PASS" if redraws <= REDRAWS_TARGET else "MISS",
        },
    ]
    return {
        "benchmark": "explain",
        "model": os.path.basename(options.model),
        "threads": options.threads,
        "dtype": options.dtype,
        "tokens": options.tokens,
        "reps": options.reps,
        "closed": closed,
        "open": opened,
        "open_over_closed": ratio,
        "screen_open_over_closed": median(opened, "screen_tok_s") / median(closed, "screen_tok_s"),
        "engine_cpu_open_over_closed": median(opened, "engine_cpu_ms_per_token")
        / (median(closed, "engine_cpu_ms_per_token") or 1.0),
        "ui_cpu_open_over_closed": median(opened, "ui_cpu_ms_per_token")
        / (median(closed, "ui_cpu_ms_per_token") or 1.0),
        "targets": targets,
    }


def render_explain_bench(doc: dict[str, Any]) -> str:
    threads = doc["threads"] or "default"
    lines = [
        f"sampler pipeline view open vs closed: {doc['model']}, {doc['dtype']}, threads {threads}, "
        f"{doc['tokens']} tokens, median of {2 * doc['reps']} each, in the TUI with its engine process",
        f"  {'tokens/s on screen, open / closed':<38} {doc['screen_open_over_closed'] * 100:.1f} %",
        # CPU time per token does not depend on what else the machine runs: the view's own cost
        f"  {'CPU per token, open / closed':<38} engine {doc['engine_cpu_open_over_closed'] * 100:.1f} %"
        f" · UI {doc['ui_cpu_open_over_closed'] * 100:.1f} %",
    ]
    lines += [f"  {t['name']:<38} {t['shown']:<44} {t['status']}" for t in doc["targets"]]
    return "\n".join(lines)


if __name__ == "__main__":
    from ..cli import main

    sys.exit(main(["bench", "explain", *sys.argv[1:]]))
