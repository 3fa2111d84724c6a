"""A server that refuses fields and wants a key (`serve --refuse-field top_k --refuse-field logprobs`,
$BABYGPT_TUI_API_KEY, --max-queue 0): the refused knob is greyed out with the server's message and
never sent again, there are no probabilities and the heat-map and inspector say so, a wrong key
is one error screen, and a busy server (429) is one sentence on the reply."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.screens.error import ErrorScreen
from babygpt_tui.ui.widgets.inspector import Inspector
from babygpt_tui.ui.widgets.slider import Slider
from tests.plugins.pilot import Recorder, finished, ready, send, wait_until
from tests.remote.conftest import TOKEN_DELAY, complete
from tests.serve.server import ServerProcess

KEY = "remote-test-key"
SIZE = (100, 30)


@pytest.fixture(scope="module")
def server(start_server: Any) -> ServerProcess:
    flags = ("--refuse-field", "top_k", "--refuse-field", "logprobs", "--max-queue", "0", "--token-delay", TOKEN_DELAY)
    return start_server(*flags, env={"BABYGPT_TUI_API_KEY": KEY})


async def test_a_refused_knob_is_greyed_out_with_the_servers_message_and_asked_once(server, remote_app) -> None:
    app = remote_app(server.url, SamplingParams(max_new_tokens=30), api_key=KEY)
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        statuses: list[int] = []  # every answer to a completion request, as the client received it

        async def seen(response: Any) -> None:
            if response.url.path == "/v1/completions":
                statuses.append(response.status_code)

        app.engine.http.event_hooks["response"].append(seen)
        await send(pilot, "明月")
        await finished(pilot)
        first = app.chat.turns[0]
        assert first.stop_reason == "length" and len(first.reply) == 30  # served, once asked without them
        slider = app.query_one("#knob-top_k", Slider)
        assert slider.disabled and "top_k: not taken by this server (--refuse-field)" in str(slider.tooltip)
        note = app.query_one("#knobs-refused", Static)
        assert note.display and "⊘ top-k · top_k: not taken by this server (--refuse-field)" in str(note.render())
        assert not app.query_one("#knob-temperature", Slider).disabled
        assert "top_k: not taken by this server (--refuse-field); leave it out — its slider is greyed" in notes.text()
        await send(pilot, "明月")
        await finished(pilot, turns=2)
        # two refusals (top_k, then logprobs) for the first reply, none for the second: remembered
        assert statuses == [400, 400, 200, 200] and app.engine.refused_fields == {"top_k", "logprobs"}


async def test_without_logprobs_the_heat_map_and_inspector_say_there_are_no_probabilities(server, remote_app) -> None:
    app = remote_app(server.url, SamplingParams(max_new_tokens=12), api_key=KEY)
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert len(turn.reply) == 12 and turn.records == []
        assert app.engine.capabilities.unavailable("probabilities") == "no probabilities from this server"
        await pilot.press("ctrl+t")
        assert "Heat-map: no probabilities from this server." in notes.text()
        legend = app.query_one("#heat-legend", Static)
        assert str(legend.render()) == "no probabilities from this server"
        await pilot.press("f4")  # inspect the last reply
        await wait_until(pilot, lambda: app.query_one(Inspector).turn is not None)
        head = str(app.query_one("#inspect-head", Static).render())
        assert "no probabilities from this server" in head


async def test_a_wrong_key_is_an_error_screen_that_names_the_fix(server, remote_app) -> None:
    app = remote_app(server.url, api_key="wrong")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.load_error is not None and app.load_error.user_error
        assert "refused the API key (401: missing or wrong API key" in app.load_error.error
        assert "--api-key KEY or set BABYGPT_TUI_API_KEY" in app.load_error.error


async def test_a_busy_server_is_one_sentence_on_the_reply(server, remote_app) -> None:
    body = {"prompt": "明月", "max_tokens": 500, "seed": 1}
    blocker = threading.Thread(target=complete, args=(server.url, body, KEY), daemon=True)
    app = remote_app(server.url, SamplingParams(max_new_tokens=5), api_key=KEY)
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        blocker.start()  # one generation runs, none may wait (--max-queue 0)
        server.wait_until(lambda health: health["running"])
        await send(pilot, "明月")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "error" and turn.error.startswith("The server is busy (429: the server is busy")
        assert "Ctrl+R regenerates" in turn.error and ("error" in [s for m, s in notes.messages if "busy" in m])
    blocker.join(timeout=60)
