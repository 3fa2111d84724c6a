"""The way from Enter to a reply's first token on screen stays short (`babygpt-tui bench tui`
measures it): the footer is not rebuilt when only Stop lights up, the new turn has room for its
prompt before the first token (which is then a repaint, not another layout of the screen), and
the gauge turns live after the first token, not in the frame that shows the new turn."""

from __future__ import annotations

import time

import pytest
from textual.app import App, ComposeResult
from textual.widgets._footer import FooterKey

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.gauge import DRAW_EVERY, Gauge
from babygpt_tui.ui.widgets.heatmap import ReplyChunk
from babygpt_tui.ui.widgets.transcript import SPARE_ROWS, TurnView, estimate_rows
from tests.plugins.pilot import finished, press_now, ready, wait_until

SIZE = (100, 30)


class GaugeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Gauge(id="gauge")


def footer_keys(app) -> dict[str, FooterKey]:
    return {key.action: key for key in app.screen.query(FooterKey)}


async def test_the_footer_lights_stop_in_place_and_rebuilds_only_when_its_keys_change(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=60), delay=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = footer_keys(app)
        assert before["stop"].has_class("-disabled") and before["stop"]._disabled
        app.query_one("#prompt").text = "明月"
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: not footer_keys(app)["stop"].has_class("-disabled"))
        during = footer_keys(app)
        assert not during["stop"]._disabled  # a click on it stops the reply
        assert all(during[action] is key for action, key in before.items())  # the same widgets
        await finished(pilot)
        await wait_until(pilot, lambda: footer_keys(app)["stop"].has_class("-disabled"))
        assert all(footer_keys(app)[action] is key for action, key in before.items())
        await pilot.resize_terminal(60, 20)  # compact: other keys fit, so the footer is composed again
        await wait_until(pilot, lambda: footer_keys(app).get("stop") is not before["stop"])
        assert "stop" in footer_keys(app) and footer_keys(app)["stop"].has_class("-disabled")


@pytest.mark.parametrize("prompt_rows", [1, 4])
async def test_a_new_turn_has_room_for_its_prompt_and_first_tokens_before_they_come(
    make_app, monkeypatch: pytest.MonkeyPatch, prompt_rows: int
) -> None:
    resized: list[tuple[str, int]] = []  # (reply, width) at each resize of the streaming tail (a layout)
    resize = TurnView._resize_now

    def record(view: TurnView) -> None:
        resized.append((view.turn.reply, view._tail().content_size.width))
        resize(view)

    monkeypatch.setattr(TurnView, "_resize_now", record)
    app = make_app(SamplingParams(max_new_tokens=8), delay=0.02)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        prompt = "\n".join(["春风"] * prompt_rows)  # the tiny model reads 16 characters: rows by lines
        app.query_one("#prompt").text = prompt
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: app.query(TurnView) and app.query_one(TurnView).query(ReplyChunk))
        tail = app.query_one(TurnView).query_one(ReplyChunk)
        await wait_until(pilot, lambda: tail.region.height > 0)  # laid out, with the turn
        # the prompt's rows, and room to grow (unless a loaded machine let the reply outgrow them first)
        assert tail.region.height == prompt_rows + SPARE_ROWS or resized
        await finished(pilot)
        # the tail was resized only once the reply no longer fitted (a reply with newlines may not)
        assert all(estimate_rows(prompt + reply, width) > prompt_rows + SPARE_ROWS for reply, width in resized)
        assert tail.styles.height is not None and tail.styles.height.is_auto  # finished: sized exactly


async def test_the_gauge_turns_live_after_the_first_token_not_at_enter(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what the app had shown when the gauge first turned live: checked at that moment, not when a
    # poll of the test happens to run (a loaded machine may deliver the first token before it)
    seen: list[tuple[str, float]] = []
    draw = Gauge._draw_live

    def record(gauge: Gauge) -> None:
        if gauge._live and not gauge.has_class("-live"):  # turning live: _drawn is still start()'s time
            reply = app.chat.turns[0].reply if app.chat.turns else ""
            seen.append((reply, time.monotonic() - gauge._drawn))
        draw(gauge)

    monkeypatch.setattr(Gauge, "_draw_live", record)
    app = make_app(SamplingParams(max_new_tokens=400), delay=0.01)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        gauge = app.query_one(Gauge)
        app.query_one("#prompt").text = "明月"
        await press_now(pilot, "enter")
        await wait_until(pilot, lambda: gauge.has_class("-live"))
        reply, after = seen[0]
        assert reply or after >= 0.9 * DRAW_EVERY  # after the first token, or a slow prefill's first redraw
        await press_now(pilot, "escape")
        await finished(pilot)
        assert not gauge.has_class("-live")


async def test_the_gauge_turns_live_while_a_slow_prefill_runs(make_app) -> None:
    """No token for a while (a long prompt, a slow server): the gauge still shows a reply runs."""
    app = GaugeApp()
    async with app.run_test(size=(40, 10)) as pilot:
        gauge = app.query_one(Gauge)
        gauge.start()
        assert not gauge.has_class("-live")
        await pilot.pause(0.4)
        assert gauge.has_class("-live") and "prefill …" in str(app.query_one("#gauge-info").render())


async def test_a_token_before_the_turns_first_frame_does_not_undo_its_rows() -> None:
    """The engine can answer before Textual has laid the new turn out (a tiny model, a busy UI):
    the tail has no width yet, so that token must keep the rows the turn was given."""
    from babygpt_tui.session import Turn
    from babygpt_tui.ui.widgets.transcript import Transcript

    class TranscriptApp(App[None]):
        def compose(self):
            yield Transcript(id="transcript")

    app = TranscriptApp()
    async with app.run_test(size=(60, 20)) as pilot:
        transcript = app.query_one(Transcript)
        turn = Turn("春风")
        with app.batch_update():  # no frame until the end of the block
            await transcript.add_turn(turn)
            turn.reply = "明月"
            transcript.update_turn(turn)
            assert app.query_one(TurnView).query_one(ReplyChunk).content_size.width == 0
        await pilot.pause()
        assert app.query_one(TurnView).query_one(ReplyChunk).region.height == 1 + SPARE_ROWS


async def test_a_gauge_removed_before_its_live_redraw_does_not_raise() -> None:
    """The live redraw after the first token runs after the next refresh: by then the app may be
    closing and the gauge gone (its widgets with it)."""
    from babygpt_tui.api import TokenBatch

    app = GaugeApp()
    async with app.run_test(size=(40, 10)) as pilot:
        gauge = app.query_one(Gauge)
        gauge.start()
        gauge.update_live(TokenBatch(0, "x", (), (), 1, 100.0, None, 1, False, 1.0))
        await gauge.remove()
        await pilot.pause(0.1)
    assert app.return_code in (0, None)


async def test_a_gauge_whose_children_are_gone_draws_nothing_and_does_not_raise() -> None:
    """Removing the gauge removes its children first; a live redraw due in between must not raise
    (it failed a closing app's test under load)."""
    from textual.widgets import Digits

    app = GaugeApp()
    async with app.run_test(size=(40, 10)) as pilot:
        gauge = app.query_one(Gauge)
        gauge.start()
        await app.query_one(Digits).remove()
        gauge._draw_live()
        await pilot.pause()
        assert gauge.is_attached and not gauge.has_class("-live")
