"""Sessions in the TUI: which session is open, autosave, new / open / rename / delete; export
and "Save as defaults" are routed on to `session_actions`.

The app's actions call these methods (`action_new_session` → `SessionController.new`), so
app.py stays a thin router. Files are `session_store.SessionStore`'s business (atomic writes);
this module decides *when* to write, and keeps the transcript and the sidebar in step with the
open session. A session is written only once it has a finished reply (no empty files), then
after every reply and on quit. A failed write is a notification: everything stays in memory and
the next save tries again. No torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..session import Session, SessionError, utc_now
from ..session_export import ExportFormat
from ..session_store import SessionInfo, SessionStore, check_name
from . import session_actions, unsaved
from .session_opening import StartupFlags, opening_settings
from .session_saving import SessionSaving, writer
from .widgets.gauge import Gauge
from .widgets.prompt import PromptInput
from .widgets.stop_control import StopControl
from .widgets.transcript import Transcript

if TYPE_CHECKING:
    from .app import BabyGPTApp


@dataclass(frozen=True)
class StartOptions:
    """What `babygpt-tui` resolved before the window opened (flags > config.toml > defaults)."""

    seed: int | None = None  # the default fixed seed; None: a random seed per reply
    context_keep: int | None = None  # None: the engine's default
    theme: str | None = None  # None: Textual's default
    autosave: bool = True
    session: Session | None = None  # --session NAME, read (or created) by the command
    config_path: str | None = None  # --config PATH: "Save as defaults" writes there
    flags: dict[str, Any] = field(default_factory=dict)  # sampling flags given (field or "seed" -> value)
    stop: tuple[str, ...] = ()  # --stop / [sampling] stop
    one_poem: bool = False  # "one poem per reply" (stop at the blank line ending a poem) at start

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        session: Session | None = None,
        config_path: str | None = None,
        flags: dict[str, Any] | None = None,
    ) -> StartOptions:
        bundled = not settings.model and not settings.server
        return cls(
            settings.seed,
            settings.context_keep,
            settings.theme,
            settings.autosave,
            session,
            config_path,
            flags or {},
            settings.stop,
            bundled if settings.one_poem is None else settings.one_poem,
        )


class SessionController(SessionSaving):
    def __init__(self, app: BabyGPTApp, options: StartOptions, store: SessionStore | None = None) -> None:
        self.app, self.options = app, options
        self.store = store or SessionStore()
        self.session = options.session or self._fresh()
        self.on_disk = options.session is not None and self._exists(options.session.name)
        self.app.chat.turns = self.session.turns  # one list: what the chat appends, the session saves
        self._saved: tuple[object, ...] | None = None  # _state() at the last write
        self._pending: Callable[[], Any] | None = None  # to run once the running reply has ended
        self.last_error = ""  # why the last save failed ("" if it worked)
        self._flags = StartupFlags(options.flags)
        self._writer = writer()

    # ----- start, autosave, quit -----------------------------------------------------------
    def start(self) -> None:
        """On mount: theme and seed from the settings, then the session (restored if saved)."""
        app, theme = self.app, self.options.theme
        if theme and theme != app.theme:
            if theme in app.available_themes:
                app.theme = theme
            else:
                app.notify(
                    f"Unknown theme {theme!r} (config.toml); using {app.theme}. Ctrl+P → Theme lists the themes.",
                    severity="warning",
                    markup=False,
                )
        if self.options.seed is not None:
            self.panel.set_seed("fixed", self.options.seed)
        app.query_one(StopControl).configure(self.options.stop, self.options.one_poem)
        app.title = self.session.name
        if self.on_disk:
            app.call_later(self._show, self.session, True, True)
        else:
            self._flags.drop()  # the new session's (the sidebar shows them); one opened with F2 keeps its own

    def reply_ended(self) -> None:
        """A reply finished, stopped or failed: autosave, then run what waited for it."""
        if self.options.autosave:
            self.save(wait=False)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.app.call_later(pending)

    def on_quit(self) -> None:
        """Quitting: a running reply ends at its next token, is kept (marked stopped) and saved."""
        self.app.replies.quit()  # its late messages are ignored
        if self.options.autosave:
            self.save()

    def unsaved_turns(self) -> int:
        """Turns a person would lose now: autosave off and the chat changed since its last save."""
        if self.options.autosave:
            return 0
        turns = self._snapshot().turns
        return len(turns) if turns and self._state() != self._saved else 0

    def when_idle(self, action: Callable[[], Any]) -> None:
        """Run `action` now, or stop the running reply and run it once the reply is saved."""
        if self.app.chat.generating:
            self._pending = action
            self.app.replies.stop()
        else:
            self.app.call_later(action)

    def _fresh(self) -> Session:
        try:
            return self.store.new_session(model=self.app.chat.model)
        except SessionError:  # the sessions folder cannot be listed: the first save will say why
            return Session(name="session", created_at=utc_now())

    def _leave(self) -> None:
        """Before switching: save the open session (autosave), or say it was not saved."""
        self.flush()  # an autosave still being written must land before names are chosen
        if self.options.autosave:
            self.save()
        elif self.unsaved_turns():
            self.app.notify(
                f"Session {self.session.name!r} was not saved (autosave is off; Ctrl+S saves).",
                severity="warning",
                markup=False,
            )

    # ----- switching sessions ----------------------------------------------------------------
    async def _show(self, session: Session, on_disk: bool, restore: bool) -> None:
        """Make `session` the open one: transcript, title, prompt history, and (restore) sidebar."""
        app = self.app
        self.session, self.on_disk = session, on_disk
        app.chat.turns, app.chat.active = session.turns, None
        if restore:
            sidebar, panel = opening_settings(session, self._flags.take()), self.panel
            panel.set_params(sidebar.params)
            panel.set_seed(sidebar.seed_mode, sidebar.seed)
            panel.set_context_mode(sidebar.context_mode)
        app.query_one(PromptInput).prompt_history = [t.prompt for t in session.turns if t.prompt]
        await app.query_one(Transcript).show_turns(session.turns)
        app.query_one(Gauge).reset()  # the numbers were the other session's
        app.title = session.name
        self._saved = self._state() if on_disk else None
        app.refresh_bindings()
        if restore:
            session_actions.note_other_model(app, session)
            for note in session.notes:
                app.notify(note, title="Per-token data dropped", severity="warning", markup=False, timeout=10)

    def new(self) -> None:
        unsaved.guard(self, "start a new one", partial(self.when_idle, self._new))

    async def _new(self) -> None:
        self._leave()
        session = self._fresh()
        await self._show(session, on_disk=False, restore=False)
        self.app.notify(f"New session {session.name!r}: it is saved after its first reply.", markup=False)

    def open(self, info: SessionInfo) -> None:
        if not info.readable:
            self.app.notify(info.error, title="Cannot open this file", severity="error", markup=False)
        elif self.on_disk and info.name == self.session.name:
            self.app.notify(f"{info.name!r} is already open.", markup=False)
        else:
            unsaved.guard(self, f"open {info.name!r}", partial(self.when_idle, partial(self._open, info.path)))

    async def _open(self, path: Path) -> None:
        try:
            session = self.store.load_path(path)
        except SessionError as e:
            self.app.notify(str(e), title="Cannot open the session", severity="error", markup=False)
            return
        self._leave()
        await self._show(session, on_disk=True, restore=True)
        n = len(session.turns)
        self.app.notify(f"Opened {session.name!r} ({n} turn{'s' if n != 1 else ''}).", markup=False)

    def is_open(self, info: SessionInfo) -> bool:
        return self.on_disk and info.readable and info.name == self.session.name

    # ----- rename, delete, export ------------------------------------------------------------
    def rename(self, info: SessionInfo | None, new: str) -> str:
        """Rename a listed session, or the open one (None, saved or not); SessionError if refused."""
        self.flush()
        current = info is None or self.is_open(info)
        if current and not self.on_disk:
            new = check_name(new)
            if new != self.session.name and self._exists(new):
                raise SessionError(f"a session named {new!r} already exists; choose another name")
        else:
            new = self.store.rename(self.session.name if info is None else info.name, new).name
        if current:
            self.session.name = self.app.title = new
            self._saved = self._state() if self.on_disk else None
        return new

    def rename_current(self) -> None:
        session_actions.rename_open(self)

    def delete(self, info: SessionInfo) -> None:
        """Delete a listed session; deleting the open one starts a new session."""
        self.flush()
        if self.is_open(info):
            self.when_idle(partial(self._delete_open, info))
            return
        path = self.store.delete(info.name)  # an unreadable file is listed (and found) by its file name
        self.app.notify(f"Deleted {info.name!r} ({path}).", markup=False)

    async def _delete_open(self, info: SessionInfo) -> None:
        self.flush()  # the autosave of the reply that was stopped for this
        try:
            path = self.store.delete(info.name)
        except SessionError as e:
            self.app.notify(str(e), title="Not deleted", severity="error", markup=False)
            return
        session = self._fresh()
        await self._show(session, on_disk=False, restore=False)
        self.app.notify(f"Deleted {info.name!r} ({path}); this is a new session, {session.name!r}.", markup=False)

    def export(self, fmt: ExportFormat) -> None:
        session_actions.export_and_tell(self, fmt)

    def browse(self) -> None:
        from .screens.sessions import SessionsScreen

        if not isinstance(self.app.screen, SessionsScreen):
            self.app.push_screen(SessionsScreen(self))

    def save_defaults(self) -> None:
        session_actions.save_as_defaults(self.app, self.options.config_path)
