"""`babygpt-tui` with no subcommand: the chat TUI.

Settings are resolved first (flags > config.toml > defaults) and `--session NAME` is read (or
created) before the window opens; neither needs torch. A mistake in either (a bad config key, a
corrupt session file) opens an error screen instead of the chat, and after it is closed the
same one-line message is printed and the exit code is 2 — so a person sees it in the window
and it stays in the terminal (and scripts get the usual exit code). A model that cannot be
loaded is shown the same way, and exits 2 too (1 if it was a bug).

The model runs in an engine child process (`babygpt-tui engine --stdio`) that the app starts
once its window is up, so this process never imports torch; with `--server URL` (or the config
key `server`) it runs on that OpenAI-compatible server instead (ui/remote/). SIGTERM and SIGHUP save the reply in
progress, end the engine, and then end this process by the same signal, as a shell expects.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from textual.app import App

from ..api import API_KEY_ENV, Load
from ..config import CLI_SOURCE, Settings, Sources, resolve_settings, settings_values
from ..errors import UserError
from ..session_store import SessionStore
from .common import bundled_model_path

USER_ERROR_EXIT = 2


def missing_bundled_model() -> UserError:
    return UserError(
        "the bundled Song-ci model is not installed here (it ships with released packages); "
        "start with --model PATH to use another model"
    )


def load_request(settings: Settings) -> Load:
    """What the engine is asked to load; UserError when the bundled model is missing."""
    if not settings.model and not bundled_model_path().exists():
        raise missing_bundled_model()
    model = settings.model or str(bundled_model_path())
    return Load(model, settings.vocab_from, settings.device, settings.dtype, settings.threads, settings.compile)


def engine_spawner(settings: Settings, extra: tuple[str, ...] = ()) -> Callable[[], Any]:
    """Starts `babygpt-tui engine --stdio` (with its thread settings) as a child process."""
    from ..ui.engine_client import ChildProcess, engine_env

    command = [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio", *extra]
    return lambda: ChildProcess(command, engine_env(settings.threads))


def server_connector(settings: Settings, sources: Sources, api_key: str | None) -> Callable[[Any], Any]:
    """Connects the app to `settings.server` (an OpenAI-compatible server) instead of an engine."""
    from ..ui.remote.client import RemoteClient, ServerOptions

    if settings.model and sources["model"] == CLI_SOURCE and sources["server"] == CLI_SOURCE:
        raise UserError("--model and --server: the model runs on the server; give one of them")
    assert settings.server is not None
    options = ServerOptions(settings.server, api_key or os.environ.get(API_KEY_ENV) or None, settings.remote_model)
    return lambda post: RemoteClient(options, post)


def build_app(args: argparse.Namespace) -> tuple[App[None], UserError | None]:
    """The chat app, or (settings, --session or the model unusable) an app showing the error."""
    from ..ui.app import BabyGPTApp
    from ..ui.screens.error import SESSION_FIXES, StartupErrorApp
    from ..ui.session_controller import StartOptions

    try:
        settings, sources = resolve_settings(args)
        connect = server_connector(settings, sources, getattr(args, "api_key", None)) if settings.server else None
        load = Load(settings.server) if settings.server else load_request(settings)
    except UserError as e:
        return StartupErrorApp(str(e)), e
    try:
        name = getattr(args, "session", None)
        store = SessionStore()
        if name is None and settings.continue_last and (last := store.last_used()) is not None:
            name = last.name  # --continue: the session used last (a new one if there is none)
        session = store.open_or_create(name) if name is not None else None
    except UserError as e:  # the advice is about sessions, not config.toml
        return StartupErrorApp(str(e), SESSION_FIXES), e
    flags = {
        key.rsplit(".", 1)[1]: value
        for key, value in settings_values(settings).items()
        if key.startswith("sampling.") and sources[key] == CLI_SOURCE
    }  # they beat --session's settings
    options = StartOptions.from_settings(settings, session, getattr(args, "config", None), flags)
    app = BabyGPTApp(load, engine_spawner(settings), params=settings.sampling, options=options, connect=connect)
    return app, None


def run(args: argparse.Namespace) -> int:
    app, error = build_app(args)
    app.run()
    if error is not None:
        raise error  # cli.main prints it as one line and exits 2
    code = app.return_code or 0
    if (failed := getattr(app, "load_error", None)) is not None:
        print(f"babygpt-tui: error: {failed.error}", file=sys.stderr)
        code = USER_ERROR_EXIT if failed.user_error else 1
    unsaved = getattr(getattr(app, "sessions", None), "last_error", "")
    if unsaved:  # the save on quit failed: the window is gone, so say it here
        print(f"babygpt-tui: warning: {unsaved}", file=sys.stderr)
        code = code or 1
    if (sig := getattr(app, "exit_signal", None)) is not None:
        end_by_signal(sig)
    return code


def end_by_signal(sig: int) -> None:
    """Exit the way the default action of `sig` would have (the parent sees the signal)."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
