"""`babygpt-tui` with no subcommand: the chat TUI.

Settings are resolved first (flags > config.toml > defaults) and `--session NAME` is read (or
created) before the window opens; neither needs torch. A mistake in either (a bad config key, a
corrupt session file) opens an error screen instead of the chat, and after it is closed the
same one-line message is printed and the exit code is 2 — so a person sees it in the window
and it stays in the terminal (and scripts get the usual exit code).

The model is loaded by a *loader* the app calls in a worker thread after the window has painted,
so torch (a second or two to import) is never imported here at start-up.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from textual.app import App

from ..api import Backend
from ..config import CLI_SOURCE, Settings, resolve_settings, settings_values
from ..errors import UserError
from ..session_store import SessionStore
from .common import bundled_model_path, load_generator, model_path


def missing_bundled_model() -> UserError:
    return UserError(
        "the bundled Song-ci model is not installed here (it ships with released packages); "
        "start with --model PATH to use another model"
    )


def make_loader(args: argparse.Namespace, settings: Settings | None = None) -> Callable[[], Backend]:
    """A callable that imports the engine and loads the model named by the settings (or flags)."""

    def loader() -> Backend:
        model = settings.model if settings is not None else getattr(args, "model", None)
        if not model and not bundled_model_path().exists():
            raise missing_bundled_model()
        return load_generator(args, settings, leave_a_core=True)  # on the engine thread, which decodes

    return loader


def build_app(args: argparse.Namespace) -> tuple[App, UserError | None]:
    """The chat app, or (settings or --session unusable) an app showing the error."""
    from ..ui.app import BabyGPTApp
    from ..ui.screens.error import StartupErrorApp
    from ..ui.session_controller import StartOptions

    try:
        settings, sources = resolve_settings(args)
        name = getattr(args, "session", None)
        session = SessionStore().open_or_create(name) if name is not None else None
    except UserError as e:
        return StartupErrorApp(str(e)), e
    path = settings.model or str(model_path(args))
    flags = {
        key.rsplit(".", 1)[1]: value
        for key, value in settings_values(settings).items()
        if key.startswith("sampling.") and sources[key] == CLI_SOURCE
    }  # they beat --session's settings
    options = StartOptions.from_settings(settings, session, getattr(args, "config", None), flags)
    return BabyGPTApp(
        loader=make_loader(args, settings), model_path=path, params=settings.sampling, options=options
    ), None


def run(args: argparse.Namespace) -> int:
    app, error = build_app(args)
    app.run()
    if error is not None:
        raise error  # cli.main prints it as one line and exits 2
    unsaved = getattr(getattr(app, "sessions", None), "last_error", "")
    if unsaved:  # the save on quit failed: the window is gone, so say it here
        print(f"babygpt-tui: warning: {unsaved}", file=sys.stderr)
        return 1
    return app.return_code or 0
