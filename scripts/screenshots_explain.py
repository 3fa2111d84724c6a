"""Write the README's picture of "What is the model looking at?": the TUI on the bundled model,
a reply with a fixed seed, one character inspected, the attention view (F8, layer 2, all heads)
and the sampler pipeline (F9) open — through Textual's `save_screenshot`, so it is the real app
with its real engine process, not a drawing.

    python scripts/screenshots_explain.py [--out docs/images/attention.svg] [--size 120x36]

A fresh home directory (no config.toml, no sessions) keeps the picture the same on any machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "明月几时有"
SEED = 7
CHARS_BACK = 6  # the inspected character: this many before the end of the reply


async def wait(condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.02)


async def shoot(out: Path, size: tuple[int, int]) -> None:
    from babygpt_tui.api import Load, SamplingParams
    from babygpt_tui.commands.common import bundled_model_path
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.session_controller import StartOptions
    from babygpt_tui.ui.widgets.attention import AttentionView
    from babygpt_tui.ui.widgets.pipeline import PipelineView

    load = Load(str(bundled_model_path()), device="cpu", dtype="float32")
    options = StartOptions(seed=SEED, autosave=False)
    app = BabyGPTApp(load, params=SamplingParams(max_new_tokens=90, top_k=40), options=options)
    async with app.run_test(size=size) as pilot:
        await wait(lambda: app.replies.ready)
        app.query_one("#prompt").cursor_blink = False
        app.query_one("#prompt").text = PROMPT
        await pilot.press("enter")
        await wait(lambda: bool(app.chat.turns) and not app.chat.generating)
        await pilot.press("f8", "f9", *["left"] * CHARS_BACK)
        views = (app.query_one(AttentionView), app.query_one(PipelineView))
        await wait(lambda: all(v.state.explanation is not None and not v.state.waiting for v in views))
        await pilot.press("shift+right")  # layer 2 (the keys cycle what has arrived)
        await pilot.pause(0.5)  # the layout settles
        app.save_screenshot(out.name, str(out.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/attention.svg"))
    parser.add_argument("--size", default="120x36", help="terminal columns x rows (default: 120x36)")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.lower().split("x"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        os.environ["BABYGPT_TUI_HOME"] = home
        asyncio.run(shoot(args.out.resolve(), (columns, rows)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
