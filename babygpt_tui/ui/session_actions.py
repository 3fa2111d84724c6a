"""Session actions that keep no state: exporting a session (Markdown or JSON, to the exports
folder), renaming the open one and "Save as defaults" (theme + sidebar → config.toml). Each
reports its outcome as a notification. No torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import paths
from ..atomic import write_atomic
from ..config import ConfigError
from ..config_write import save_defaults
from ..session import Session, SessionError
from ..session_export import ExportFormat, export_session
from ..session_store import SessionInfo, slugify
from .conversation import same_model
from .screens.dialogs import InputDialog
from .widgets.sampling_panel import SamplingPanel

if TYPE_CHECKING:
    from .app import BabyGPTApp
    from .session_controller import SessionController


def note_other_model(app: BabyGPTApp, session: Session) -> None:
    """A session opened with another model than its own: its turns would not replay the same."""
    model, own = app.chat.model, session.current_model
    if model.name and own.name and not same_model(own, model):
        app.notify(
            f"{session.name!r} was last used with {own.short}; the loaded model is {model.short}.",
            severity="warning",
            markup=False,
        )


def save_as_defaults(app: BabyGPTApp, config_path: str | None = None) -> None:
    """Theme, sampling knobs and seed mode → config.toml (or --config PATH); errors are notifications."""
    panel, theme = app.query_one(SamplingPanel), app.theme
    seed = panel.fixed_seed
    try:
        path = save_defaults(
            theme=theme,
            params=panel.params,
            seed="random" if seed is None else seed,
            path=Path(config_path) if config_path else None,
        )
    except ConfigError as e:
        app.notify(str(e), title="Defaults not saved", severity="error", markup=False)
        return
    panel.defaults = panel.params  # F5 now resets to these
    app.notify(f"Saved the theme ({theme}) and the sampling knobs as defaults in {path}", markup=False)


def free_path(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem.suffix`, or the first of `stem-2.suffix`, `stem-3.suffix`, … that does not
    exist: an export never replaces an earlier one."""
    path, n = folder / f"{stem}.{suffix}", 1
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / f"{stem}-{n}.{suffix}"
    return path


def export(controller: SessionController, fmt: ExportFormat, info: SessionInfo | None = None) -> tuple[Path, Path]:
    """Write a session (the open one by default, as it is in memory) to a new file in the
    exports folder: (the file written, the name it would have had: `NAME.md`, else `NAME-2.md`, …)."""
    if info is None or controller.is_open(info):
        session = controller.finished_copy()
    else:
        session = controller.store.load_path(info.path)
    folder, stem = paths.exports_dir(), slugify(session.name)
    path = free_path(folder, stem, fmt)
    try:
        write_atomic(path, export_session(session, fmt).encode("utf-8"))
    except OSError as e:
        raise SessionError(f"cannot write {path}: {e.strerror or e}") from None
    return path, folder / f"{stem}.{fmt}"


def export_and_tell(controller: SessionController, fmt: ExportFormat, info: SessionInfo | None = None) -> None:
    app = controller.app
    try:
        path, wanted = export(controller, fmt, info)
    except SessionError as e:
        app.notify(str(e), title="Not exported", severity="error", markup=False)
    else:
        kind = "Markdown" if fmt == "md" else "JSON"
        kept = f" ({wanted.name} was already there and is kept)" if wanted != path else ""
        app.notify(f"Exported {kind} to {path}{kept}", markup=False, timeout=10)


def rename_open(controller: SessionController) -> None:
    """Ask for a new name for the open session (saved or not yet)."""
    app = controller.app

    def done(new: str | None) -> None:
        if new is not None:
            try:
                app.notify(f"Renamed the session to {controller.rename(None, new)!r}.", markup=False)
            except SessionError as e:
                app.notify(str(e), title="Not renamed", severity="error", markup=False)

    app.push_screen(InputDialog("Rename this session:", controller.session.name), done)
