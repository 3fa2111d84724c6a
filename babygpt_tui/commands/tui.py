"""`babygpt-tui` with no subcommand: the chat TUI.

The model is loaded by a *loader* the app calls in a worker thread after the window has painted,
so torch (a second or two to import) is never imported here at start-up.
"""

from __future__ import annotations

import argparse
from typing import Callable

from ..api import Backend
from ..errors import UserError
from .common import bundled_model_path, load_generator, model_path


def missing_bundled_model() -> UserError:
    return UserError(
        "the bundled Song-ci model is not installed here (it ships with released packages); "
        "start with --model PATH to use another model"
    )


def make_loader(args: argparse.Namespace) -> Callable[[], Backend]:
    """A callable that imports the engine and loads the model named by the flags."""

    def loader() -> Backend:
        if not getattr(args, "model", None) and not bundled_model_path().exists():
            raise missing_bundled_model()
        return load_generator(args)

    return loader


def run(args: argparse.Namespace) -> int:
    from ..ui.app import BabyGPTApp

    app = BabyGPTApp(loader=make_loader(args), model_path=str(model_path(args)))
    app.run()
    return app.return_code or 0
