"""F3 replays a turn to its own length (its stored token count) — a stopped turn, and a replay of
a replay — and says so when a knob is moved during a replay (it follows the stored settings)."""

from __future__ import annotations

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.session_controller import StartOptions
from babygpt_tui.ui.widgets.slider import Slider
from tests.plugins.pilot import Recorder, finished, press_now, ready, send, wait_until

SIZE = (100, 30)


async def test_a_stopped_turn_replays_to_its_own_length_and_so_does_its_replay(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=2000), start=StartOptions(seed=5), delay=0.004)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 30)
        await press_now(pilot, "escape")
        await finished(pilot)
        stopped = app.chat.turns[0]
        assert stopped.stop_reason == "stopped" and 30 <= stopped.tokens < 2000
        for turns in (2, 3):  # the replay, then a replay of that replay
            await press_now(pilot, "f3")
            await finished(pilot, turns)
            replay = app.chat.turns[-1]
            assert replay.reply == stopped.reply and replay.tokens == stopped.tokens
            assert backend.requests[-1].params.max_new_tokens == stopped.tokens


async def test_moving_a_knob_during_a_replay_says_the_replay_follows_the_stored_settings(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=300), start=StartOptions(seed=5), delay=0.004)
    async with app.run_test(size=SIZE) as pilot:
        notes = Recorder(app)
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        await press_now(pilot, "f3")
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and len(app.chat.turns[1].reply) >= 5)
        slider = app.query_one("#knob-temperature", Slider)
        slider.focus()
        await wait_until(pilot, lambda: slider.has_focus)
        await press_now(pilot, "home", "right")
        await wait_until(pilot, lambda: "follows turn 1's stored settings" in notes.text())
        assert notes.text().count("stored settings, so the knob") == 1  # once per replay
        await finished(pilot, 2)
        assert app.chat.turns[1].reply == app.chat.turns[0].reply  # the knob did not change it
