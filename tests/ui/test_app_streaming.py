"""The app driven with Pilot on a tiny model: loading, streaming, live knobs, stop, failures and
quitting. Live knobs, Esc, regenerate and quitting run against the real engine child process
(`make_child_app`); the rest against the same engine server in this process (`make_app`)."""

from __future__ import annotations

import asyncio
import threading

from textual.widgets import Static

from babygpt_tui.api import Load, SamplingParams
from babygpt_tui.ui.app import BabyGPTApp
from babygpt_tui.ui.screens.error import ErrorScreen
from babygpt_tui.ui.widgets.prompt import PromptInput
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import (
    InProcessEngine,
    Recorder,
    Sent,
    WrappedBackend,
    finished,
    press_now,
    ready,
    send,
    wait_until,
)

SIZE = (100, 30)


def reply_widgets_text(app: BabyGPTApp) -> str:
    view = app.query(TurnView).last()
    return "\n".join(str(s.render()) for s in view.query(".turn-reply").results(Static))


async def test_model_loads_in_the_background_and_the_header_names_it(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.sub_title == "tiny · " + app.sub_title.split(" · ", 1)[1]
        assert "params · cpu · float32" in app.sub_title
        assert app.query_one(PromptInput).has_focus


async def test_a_prompt_streams_a_reply_that_grows_and_gets_a_footer(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=120), delay=0.004)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        transcript = app.query_one(Transcript)
        shown: list[int] = []  # reply length at every transcript update
        update = transcript.update_turn
        transcript.update_turn = lambda turn: (shown.append(len(turn.reply)), update(turn))
        await send(pilot, "明月")
        await finished(pilot)
        assert app.query_one(PromptInput).text == ""  # accepted and cleared
        assert len(shown) >= 3 and shown == sorted(shown) and shown[0] < 120  # it streamed in
        assert len(shown) < 120  # batched: far fewer UI updates than tokens
        turn = app.chat.turns[0]
        assert turn.prompt == "明月" and turn.stop_reason == "length" and turn.tokens == 120
        assert len(turn.reply) == 120 and turn.decode_tokens_per_s > 0 and turn.prefill_ms > 0
        assert backend.requests[0].prompt == "明月"
        assert reply_widgets_text(app) == turn.prompt + turn.reply  # the reply continues the prompt's line
        footer = str(app.query(".turn-footer").last(Static).render())
        assert "120 tokens" in footer and "tok/s" in footer and "length" in footer


async def test_moving_a_slider_mid_generation_reaches_the_engine(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 20)
        slider = app.query_one("#knob-temperature", Slider)
        slider.focus()
        await wait_until(pilot, lambda: slider.has_focus)
        await press_now(pilot, "home")  # temperature 0: greedy from the next token on
        await wait_until(pilot, lambda: app.params.temperature == 0.0)
        shown_at = len(app.chat.turns[0].reply)  # what the UI had drawn when the knob moved
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= shown_at + 40)
        await press_now(pilot, "escape")
        await finished(pilot)
        turn = app.chat.turns[0]
        changes = [(step, p.temperature) for step, p in turn.params_changes]  # as the engine recorded them
        assert changes[0] == (0, 0.8) and len(changes) == 2 and changes[1][1] == 0.0
        assert 20 <= changes[1][0] < shown_at + 40  # in this reply, while it streamed (not the next reply)
        assert turn.params.temperature == 0.8  # the turn records the settings at its start


async def test_escape_stops_at_once_and_keeps_the_partial_reply(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "春")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        await press_now(pilot, "escape")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "stopped"
        assert 10 <= len(turn.reply) < 2048 and turn.tokens == len(turn.reply)
        footer = app.query(".turn-footer").last(Static)
        assert "stopped" in str(footer.render()) and footer.has_class("-stopped")
        assert reply_widgets_text(app) == turn.prompt + turn.reply


async def test_an_engine_exception_marks_the_turn_error_and_the_app_keeps_working(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=30), fail_after=5)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        notes = Recorder(app)
        await send(pilot, "明")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "error" and "injected failure" in turn.error
        assert len(turn.reply) == 5  # the text before the failure stays
        assert "injected failure" in notes.text()
        footer = app.query(".turn-footer").last(Static)
        assert footer.has_class("-error")
        await send(pilot, "月")
        await finished(pilot, turns=2)
        assert app.chat.turns[1].stop_reason == "length" and len(app.chat.turns[1].reply) == 30


async def test_a_model_that_fails_to_load_shows_the_error_screen(make_child_app, tiny_checkpoint) -> None:
    tiny_checkpoint.unlink()  # the engine is asked to load a file that is not there
    app = make_child_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await pilot.pause()
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert str(tiny_checkpoint) in text and "--model" in text
        assert app.load_error is not None and app.load_error.user_error
        await pilot.press("q")
    assert not app.engine.running


async def test_a_prompt_sent_while_loading_runs_when_the_model_is_ready(backend) -> None:
    gate = threading.Event()

    def slow_load(_load: Load) -> WrappedBackend:
        gate.wait(30)  # the engine is still importing torch / reading the file
        return backend

    app = BabyGPTApp(Load("tiny.safetensors"), lambda: InProcessEngine(slow_load), SamplingParams(max_new_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.sub_title == "loading model…"
        await send(pilot, "明")
        assert not app.chat.turns and app.replies.queued is not None
        gate.set()
        await finished(pilot)
        assert app.chat.turns[0].prompt == "明" and len(app.chat.turns[0].reply) == 8


async def test_the_header_says_compiling_while_the_engine_compiles_the_step(backend) -> None:
    """--compile (or compile = true): the engine's "status" log is the subtitle until it is loaded."""
    gate = threading.Event()

    def compiling_load(_load: Load) -> WrappedBackend:
        gate.wait(30)  # torch.compile of the decode step takes a while
        return backend

    load = Load("tiny.safetensors", compile=True)
    app = BabyGPTApp(load, lambda: InProcessEngine(compiling_load), SamplingParams(max_new_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sub_title == "compiling the decode step…")
        gate.set()
        await ready(pilot)
        assert "params · cpu · float32" in app.sub_title


async def test_enter_while_generating_does_not_lose_the_prompt(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await wait_until(pilot, lambda: app.chat.generating)
        notes = Recorder(app)
        await press_now(pilot, "月", "enter")
        await wait_until(pilot, lambda: "Esc" in notes.text())  # keys are handled asynchronously
        assert app.query_one(PromptInput).text == "月"
        assert len(app.chat.turns) == 1
        await press_now(pilot, "escape")
        await finished(pilot)
        assert app.chat.turns[0].stop_reason == "stopped"


async def test_regenerate_while_generating_stops_then_replaces_the_reply(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sent = Sent(app)
        await send(pilot, "明")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        first = app.chat.turns[0]
        await press_now(pilot, "ctrl+r")
        await wait_until(pilot, lambda: len(sent.generates()) == 2)
        assert first.stop_reason == "stopped"
        await press_now(pilot, "escape")
        await finished(pilot)
        assert len(app.chat.turns) == 1 and app.chat.turns[0] is not first
        assert app.chat.turns[0].prompt == "明" and len(app.query(TurnView)) == 1


async def a_long_reply_streaming(pilot) -> Transcript:
    """A reply on its way that is already taller than the transcript (60×20)."""
    await ready(pilot)
    transcript = pilot.app.query_one(Transcript)
    await send(pilot, "明")
    await wait_until(pilot, lambda: transcript.max_scroll_y > 10)
    return transcript


async def test_scrolling_up_while_streaming_stops_the_auto_scroll(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=2048), delay=0.005)
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await a_long_reply_streaming(pilot)
        assert transcript.scroll_y == transcript.max_scroll_y  # following the text
        transcript.focus()
        await press_now(pilot, "home")  # the person scrolls up to read (an animated scroll)
        await wait_until(pilot, lambda: not transcript.is_anchored, timeout=5)  # on the key, not the animation
        await wait_until(pilot, lambda: transcript.scroll_y < 1, timeout=15)
        grown = transcript.max_scroll_y + 10
        await wait_until(pilot, lambda: transcript.max_scroll_y > grown)
        assert transcript.scroll_y < 1  # stays where the person scrolled to
        await press_now(pilot, "end")  # back at the bottom at once: follows the text again
        await wait_until(pilot, lambda: transcript.scroll_y >= transcript.max_scroll_y - 3, timeout=15)
        grown = transcript.max_scroll_y + 10
        await wait_until(pilot, lambda: transcript.max_scroll_y > grown)
        await wait_until(pilot, lambda: transcript.scroll_y >= transcript.max_scroll_y - 3, timeout=10)
        await press_now(pilot, "escape")
        await finished(pilot)


async def test_paging_back_down_to_the_bottom_follows_the_text_again(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=2048), delay=0.005)
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = await a_long_reply_streaming(pilot)
        transcript.focus()
        await press_now(pilot, "pagedown")  # already at the bottom: it keeps following
        await asyncio.sleep(0.3)
        assert transcript.is_anchored and transcript.scroll_y >= transcript.max_scroll_y - 3
        await press_now(pilot, "pageup")
        await wait_until(pilot, lambda: not transcript.is_anchored, timeout=5)
        await wait_until(pilot, lambda: not app.animator.is_being_animated(transcript, "scroll_y"), timeout=15)
        await asyncio.sleep(0.3)  # more text arrives: the view stays above the bottom
        assert not transcript.is_anchored and transcript.scroll_y < transcript.max_scroll_y
        for _ in range(40):  # page down until the bottom is reached and following resumes
            if transcript.is_anchored:
                break
            await press_now(pilot, "pagedown")
            await asyncio.sleep(0.25)
        assert transcript.is_anchored
        grown = transcript.max_scroll_y + 10
        await wait_until(pilot, lambda: transcript.max_scroll_y > grown)
        await wait_until(pilot, lambda: transcript.scroll_y >= transcript.max_scroll_y - 3, timeout=10)
        await press_now(pilot, "escape")
        await finished(pilot)


async def test_quitting_mid_reply_stops_it_keeps_the_turn_and_ends_the_engine(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        child = app.engine.transport.proc
        await press_now(pilot, "ctrl+q")
    turn = app.chat.turns[0]
    assert turn.stop_reason == "stopped" and turn.finished_at and 10 <= len(turn.reply) < 2048
    assert child.poll() is not None and not app.engine.running  # no orphan engine


async def test_messages_reaching_a_closing_app_are_dropped_not_raised(make_app) -> None:
    """The engine posts until it sees the stop; while the app closes, its widgets go first.
    Tokens and the finish arriving then must not raise (seen in a benchmark's teardown)."""
    from babygpt_tui.ui.widgets.gauge import Gauge
    from babygpt_tui.ui.widgets.transcript import Transcript

    app = make_app(SamplingParams(max_new_tokens=60), delay=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) > 2)
        await app.query_one(Transcript).remove()  # as in teardown: widgets gone, messages still coming
        await app.query_one(Gauge).remove()
        await wait_until(pilot, lambda: not app.chat.generating)  # the finish was handled too
        assert app.chat.turns[0].stop_reason == "length" and len(app.chat.turns[0].reply) == 60


async def test_an_app_that_ends_without_a_quit_still_ends_its_engine(make_child_app) -> None:
    app = make_child_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        child = app.engine.transport.proc
    assert child.wait(10) is not None and not app.engine.running
