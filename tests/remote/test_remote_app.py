"""The TUI on a remote engine, driven with Pilot against a real `babygpt-tui serve` subprocess:
streaming, the server's own text and logprobs (heat-map and inspector data), a knob moved
mid-reply (the stream is cancelled and continued from the text so far), Esc, replay with the
stored seed, the session naming the server, an unknown model, and `--server` on the command line."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

import pytest
from textual.widgets import Static

from babygpt_tui.api import TOP_ALTERNATIVES, SamplingParams
from babygpt_tui.cli import build_parser
from babygpt_tui.commands.tui import build_app
from babygpt_tui.session import ModelRef
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.remote.client import RemoteClient
from babygpt_tui.ui.remote.wire import completion_body
from babygpt_tui.ui.widgets.slider import Slider
from babygpt_tui.ui.widgets.transcript import TurnView
from tests.plugins.pilot import Recorder, finished, press_now, ready, send, wait_until
from tests.remote.conftest import TOKEN_DELAY, complete
from tests.serve.server import ServerProcess

SIZE = (100, 30)
CANCELLED = re.compile(r"request \d+ cancelled after \d+ tokens \(client disconnected\)")


@pytest.fixture(scope="module")
def server(start_server: Any) -> ServerProcess:
    return start_server("--token-delay", TOKEN_DELAY)


def direct(server: ServerProcess, prompt: str, params: SamplingParams, seed: int, **kw: Any) -> dict[str, Any]:
    body = completion_body(prompt, params, seed, model="tiny", logprobs=TOP_ALTERNATIVES, **kw)
    return complete(server.url, body)["choices"][0]


async def test_a_reply_streams_with_the_servers_text_and_logprobs_for_its_seed(server, remote_app) -> None:
    params = SamplingParams(max_new_tokens=80)
    app = remote_app(server.url, params)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.sub_title.startswith("tiny · ") and app.sub_title.endswith(server.url)
        shown: list[int] = []
        app.query_one("#transcript").update_turn = lambda turn: shown.append(len(turn.reply))  # type: ignore[method-assign]
        await send(pilot, "明月")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "length" and len(turn.reply) == turn.tokens == 80
        assert len(shown) >= 2 and shown == sorted(shown)  # it streamed in, in batches
        assert turn.model == ModelRef("tiny", "", server.url)
        assert turn.decode_tokens_per_s > 0 and turn.prefill_ms > 0
        answer = direct(server, "明月", params, turn.seed)
        assert turn.reply == answer["text"]  # the same request the TUI made: the same text
        assert len(turn.records) == 80
        for record, text, logprob, top in zip(
            turn.records,
            answer["logprobs"]["tokens"],
            answer["logprobs"]["token_logprobs"],
            answer["logprobs"]["top_logprobs"],
            strict=True,
        ):
            assert math.isclose(record.prob, math.exp(logprob), rel_tol=1e-3)
            assert set(record.alt_texts) == set(top) and record.id == ord(text)
        await pilot.press("ctrl+t")  # the heat-map colours the reply from those probabilities
        reply = app.query(TurnView).last().query(".turn-reply").first(Static)
        assert app.heatmap and reply.render().spans
        assert SessionStore().load(app.sessions.session.name).turns[0].model == ModelRef("tiny", "", server.url)


async def test_a_knob_moved_mid_reply_continues_from_the_text_so_far_with_it(server, remote_app) -> None:
    app = remote_app(server.url, SamplingParams(max_new_tokens=1500))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 20)
        slider = app.query_one("#knob-temperature", Slider)
        slider.focus()
        await wait_until(pilot, lambda: slider.has_focus)
        await press_now(pilot, "home")  # greedy from the next token on
        turn = app.chat.turns[0]
        await wait_until(
            pilot, lambda: len(turn.params_changes) == 2 and len(turn.reply) >= turn.params_changes[1][0] + 40
        )
        await press_now(pilot, "escape")
        await finished(pilot)
        server.wait_for_line(CANCELLED)  # the first stream was cancelled, not left running
        step, greedy = turn.params_changes[1]
        assert greedy == replace(turn.params, temperature=0.0) and turn.stop_reason == "stopped"
        # the continuation is the greedy reply to the prompt plus the text written before the knob moved
        rest = len(turn.reply) - step
        answer = direct(server, ("明月" + turn.reply[:step])[-32:], greedy, turn.seed, max_tokens=rest)
        assert turn.reply[step:] == answer["text"]

        await pilot.press("f3")  # replay: the same segments with the stored seed give the same text
        await finished(pilot, turns=2)
        again = app.chat.turns[1]
        assert again.reply == turn.reply  # a stopped turn is replayed up to its length (max_new_tokens capped)
        assert [(s, p.temperature) for s, p in again.params_changes] == [
            (s, p.temperature) for s, p in turn.params_changes
        ]
        assert again.seed == turn.seed and again.stop_reason == "length"


async def test_esc_cancels_the_stream_and_keeps_the_reply_marked_stopped(server, remote_app) -> None:
    app = remote_app(server.url, SamplingParams(max_new_tokens=1500))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 10)
        await press_now(pilot, "escape")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "stopped" and 10 <= len(turn.reply) < 1500 == turn.params.max_new_tokens
        server.wait_for_line(CANCELLED)
        saved = SessionStore().load(app.sessions.session.name).turns[0]
        assert saved.reply == turn.reply and saved.stop_reason == "stopped"


async def test_a_model_the_server_does_not_have_is_said_at_start_and_on_the_reply(server, remote_app) -> None:
    app = remote_app(server.url, SamplingParams(max_new_tokens=5), model="nope")
    notes = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "The server lists tiny, not 'nope'" in notes.text()
        await send(pilot, "明月")
        await finished(pilot)
        turn = app.chat.turns[0]
        assert turn.stop_reason == "error" and "has no model 'nope'" in turn.error and "--remote-model" in turn.error
        assert ("error" in [s for m, s in notes.messages if "has no model" in m]) and "Traceback" not in notes.text()


def test_the_command_line_connects_the_app_to_the_server(server: ServerProcess) -> None:
    app, error = build_app(build_parser().parse_args(["--server", server.url + "/v1/", "--remote-model", "tiny"]))
    assert error is None and isinstance(app.engine, RemoteClient)  # type: ignore[attr-defined]
    assert app.engine.url == server.url and app.engine.options.model == "tiny"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--server", "ftp://h"], '--server = "ftp://h" is not allowed; use an http:// or https:// URL'),
        (["--server", "http://u:p@h"], "without user:password@"),
        (["--server", "http://h:1", "--model", "m.safetensors"], "--model and --server"),
    ],
)
def test_a_bad_server_flag_is_one_line(argv: list[str], expected: str) -> None:
    _, error = build_app(build_parser().parse_args(argv))
    assert error is not None and expected in str(error)


async def test_the_tuis_stop_strings_reach_the_server(server, remote_app) -> None:
    """One poem per reply and `--stop` are stop strings of the request: a server ends the reply
    there, the stop string not shown (the tiny model writes no blank line, so a string it does)."""
    from babygpt_tui.ui.session_controller import StartOptions

    params = SamplingParams(max_new_tokens=120)
    free = direct(server, "明", params, 3)["text"]
    stop = free[40:42]
    app = remote_app(server.url, params, start=StartOptions(seed=3, stop=(stop,), one_poem=True))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明")
        await finished(pilot)
        turn = app.chat.turns[0]
    assert turn.stop_reason == "stop" and turn.reply == free[: free.index(stop)]
