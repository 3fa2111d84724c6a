"""Pictures of the TUI for the README: `python scripts/screenshots.py [--out docs/images]`.

Writes SVG screenshots (Textual's `save_screenshot`) of the real app on the bundled Song-ci
model, at 120×36:

- `streaming.svg`: a reply streaming, with the sidebar (gauge live, knobs);
- `heatmap-inspector.svg`: the heat-map on a finished reply, a character inspected;
- `sessions.svg`: the sessions screen (F2) with three saved sessions.

Deterministic, so a refresh only changes what the app's looks changed: float32 on the CPU, one
torch thread, fixed seeds, the reply held at a fixed token while streaming, a fixed clock for
the engine's timings (so tokens/s and prefill read the same on every machine — they are not a
measurement; see the README's Speed section for those), fixed "last used" times, truecolor.
Everything is written under a temporary BABYGPT_TUI_HOME (the system's temp folder /
babygpt-tui-screenshots, removed afterwards); your own sessions are never read.
The engine runs in this process over the real protocol (tests/plugins/pilot.py's
`InProcessEngine`), as the snapshot tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZE = (120, 36)
SEED = 7
STREAM_HOLD = 90  # tokens shown while "streaming"
FIXED_LAST_USED = ("2026-11-28T20:14:00.000Z", "2026-11-30T09:02:00.000Z", "2026-12-02T21:47:00.000Z")
SESSIONS = (("咏月", "明月"), ("春江", "春江"), ("送别", "长亭"))  # (name, prompt)


class HeldBackend:
    """The frozen-clock backend of the tests, whose stream can stop at token `hold` until released."""

    def __init__(self, wrapped: object) -> None:
        self.wrapped = wrapped
        self.hold: int | None = None
        self.release = threading.Event()
        self.held = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.wrapped, name)

    def stream(self, request: Any, cancel: Any = None, params_source: Any = None) -> HeldRun:
        run = self.wrapped.stream(request, cancel, params_source)
        return HeldRun(self, run, self.hold)


class HeldRun:
    def __init__(self, backend: HeldBackend, run: object, hold: int | None) -> None:
        self.backend, self.run, self.hold = backend, run, hold

    def __getattr__(self, name: str) -> object:
        return getattr(self.run, name)

    def __iter__(self) -> Iterator[Any]:
        for i, event in enumerate(self.run):
            if self.hold is not None and i == self.hold:
                self.backend.held.set()
                self.backend.release.wait()
            yield event


async def settle(pilot: Any) -> None:
    """Wait for the model, and stop the blinking cursors (a picture is one instant)."""
    from textual.widgets import Input

    from babygpt_tui.ui.widgets.prompt import PromptInput

    app = pilot.app
    while app.model_info is None:
        await asyncio.sleep(0.05)
    app.query_one(PromptInput).cursor_blink = False
    for widget in app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


async def send(pilot: Any, prompt: str) -> None:
    from babygpt_tui.ui.widgets.prompt import PromptInput

    pilot.app.query_one(PromptInput).insert(prompt)
    await pilot.press("enter")


async def until(condition: Callable[[], object]) -> None:
    while not condition():
        await asyncio.sleep(0.02)


def build(backend: HeldBackend, session: Any = None, autosave: bool = False) -> Any:
    """The app on the bundled model; only the sessions picture's own sessions are saved."""
    from babygpt_tui.api import Load, SamplingParams
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.session_controller import StartOptions
    from tests.plugins.pilot import InProcessEngine

    return BabyGPTApp(
        Load("songci-small.safetensors"),
        lambda: InProcessEngine(lambda _: backend),
        params=SamplingParams(max_new_tokens=200),
        options=StartOptions(seed=SEED, session=session, autosave=autosave),
    )


async def streaming(backend: HeldBackend, out: Path) -> None:
    backend.hold, backend.release = STREAM_HOLD, threading.Event()
    backend.held.clear()
    app = build(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await send(pilot, "明月")
        await until(backend.held.is_set)
        await pilot.pause(1.0)  # the batches sent before the hold are drawn; the gauge redraws
        app.save_screenshot("streaming.svg", str(out))
        backend.release.set()
        await until(lambda: not app.chat.generating)
    backend.hold = None


async def heatmap_inspector(backend: HeldBackend, out: Path) -> None:
    app = build(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await send(pilot, "明月")
        await until(lambda: app.chat.turns and not app.chat.generating)
        await pilot.pause(0.3)
        await pilot.press("ctrl+t", "f4")
        app.query_one("#transcript").focus()
        for _ in range(9):  # back to an interesting character: a line's first, unlikely ones
            await pilot.press("up")
        await pilot.press("home")
        await pilot.pause(0.5)
        app.save_screenshot("heatmap-inspector.svg", str(out))


async def sessions_screen(backend: HeldBackend, out: Path) -> None:
    from babygpt_tui.session import dumps_session
    from babygpt_tui.session_store import SessionStore

    store = SessionStore()
    for (name, prompt), last_used in zip(SESSIONS, FIXED_LAST_USED, strict=True):
        app = build(backend, store.open_or_create(name), autosave=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await send(pilot, prompt)
            await until(lambda app=app: app.chat.turns and not app.chat.generating)
            await pilot.press("ctrl+s")
            await pilot.pause(0.3)
        info = store.find(name)
        assert info is not None, name
        session = replace(store.load_path(info.path), updated_at=last_used)
        info.path.write_bytes(dumps_session(session))  # a fixed "last used", for the picture
    app = build(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await pilot.pause(0.8)
        app.save_screenshot("sessions.svg", str(out))


async def attention(out: Path) -> None:
    """The attention view (F8, layer 2, all heads) and the sampler pipeline (F9) on a character
    six before the end of a reply — the real app with its real engine process."""
    from babygpt_tui.api import Load, SamplingParams
    from babygpt_tui.commands.common import bundled_model_path
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.session_controller import StartOptions
    from babygpt_tui.ui.widgets.attention import AttentionView
    from babygpt_tui.ui.widgets.pipeline import PipelineView

    load = Load(str(bundled_model_path()), device="cpu", dtype="float32", threads=1)
    app = BabyGPTApp(load, params=SamplingParams(max_new_tokens=90, top_k=40), options=StartOptions(seed=SEED))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await send(pilot, "明月几时有")
        await until(lambda: app.chat.turns and not app.chat.generating)
        await pilot.press("f8", "f9", *["left"] * 6)
        views = (app.query_one(AttentionView), app.query_one(PipelineView))
        await until(lambda: all(v.state.explanation is not None and not v.state.waiting for v in views))
        await pilot.press("shift+right")  # layer 2 (the keys cycle what has arrived)
        await pilot.pause(0.5)  # the layout settles
        app.save_screenshot("attention.svg", str(out))


async def main(out: Path) -> None:
    from babygpt_tui.commands.common import bundled_model_path
    from babygpt_tui.engine.generate import Generator
    from tests.plugins.pilot import Options, WrappedBackend

    generator = Generator.load(bundled_model_path(), None, device="cpu", dtype="float32")
    backend = HeldBackend(WrappedBackend(generator, Options(freeze=True)))
    out.mkdir(parents=True, exist_ok=True)
    await streaming(backend, out)
    await heatmap_inspector(backend, out)
    await sessions_screen(backend, out)
    await attention(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder (default: docs/images)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # tests.plugins.pilot
    os.environ.update(COLORTERM="truecolor", TZ="UTC", OMP_NUM_THREADS="1")
    os.environ.pop("NO_COLOR", None)
    # A fixed folder, not a random one: the sessions screen shows where sessions live.
    home = Path(tempfile.gettempdir()) / "babygpt-tui-screenshots"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["BABYGPT_TUI_HOME"] = str(home)
    try:
        import torch

        torch.set_num_threads(1)
        asyncio.run(main(args.out.resolve()))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for name in ("streaming.svg", "heatmap-inspector.svg", "sessions.svg", "attention.svg"):
        print(args.out / name)
