"""Sessions at start-up and in F2: command-line knobs belong to the new session only (a session
opened with F2 keeps its own), `--continue` / `continue_last` resume the session used last, and
an export never replaces an earlier one."""

from __future__ import annotations

import argparse
import os

from babygpt_tui import cli, paths
from babygpt_tui.api import SamplingParams
from babygpt_tui.commands import tui
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.app import BabyGPTApp
from tests.plugins.pilot import InProcessEngine, Recorder, finished, ready, send, wait_until

SIZE = (100, 30)


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def with_backend(app, backend) -> BabyGPTApp:
    app.engine.spawn = lambda: InProcessEngine(lambda _: backend)
    return app


def saved(name: str, prompt: str, when: float, max_new_tokens: int = 77) -> None:
    store = SessionStore()
    session = Session(
        name, turns=[Turn(prompt, "几时有", "length", tokens=3)], params=SamplingParams(max_new_tokens=max_new_tokens)
    )
    store.save(session)
    path = store.directory / f"{name}.json"
    os.utime(path, (when, when))


async def test_command_line_knobs_do_not_leak_into_a_session_opened_with_f2(backend) -> None:
    saved("poems", "明月", 1_000_000)
    app, _ = tui.build_app(parse("--max-new-tokens", "2000"))
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.params.max_new_tokens == 2000  # the new session has them
        (info,) = SessionStore().list()
        app.sessions.open(info)
        await wait_until(pilot, lambda: app.title == "poems")
        await pilot.pause()
        assert app.params.max_new_tokens == 77  # its own settings
        app.sessions.save()
    assert SessionStore().load("poems").params.max_new_tokens == 77


async def test_continue_opens_the_session_used_last(backend) -> None:
    saved("older", "春风", 1_000_000)
    saved("newer", "明月", 2_000_000)
    app, error = tui.build_app(parse("--continue"))
    assert error is None
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.title == "newer" and app.sessions.on_disk
        await wait_until(pilot, lambda: len(app.chat.turns) == 1)
        await send(pilot, "又")
        await finished(pilot, 2)
    assert len(SessionStore().load("newer").turns) == 2  # resumed, not a new "session N"


async def test_continue_last_in_the_config_and_no_session_yet_starts_a_new_one(backend) -> None:
    paths.config_path().parent.mkdir(parents=True, exist_ok=True)
    paths.config_path().write_text("continue_last = true\n", encoding="utf-8")
    app, error = tui.build_app(parse())
    assert error is None
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not app.sessions.on_disk and app.chat.turns == []
    saved("poems", "明月", 1_000_000)
    app, _ = tui.build_app(parse())
    async with with_backend(app, backend).run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.title == "poems"


async def test_an_export_never_replaces_an_earlier_one(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        notes = Recorder(app)
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        folder = paths.exports_dir()
        app.action_export_md()
        app.action_export_md()
        await pilot.pause()
        name = app.sessions.session.name.replace(" ", "-")
        first, second = folder / f"{name}.md", folder / f"{name}-2.md"
        assert first.exists() and second.exists() and first.read_text() == second.read_text()
        assert f"({first.name} was already there and is kept)" in notes.text()
