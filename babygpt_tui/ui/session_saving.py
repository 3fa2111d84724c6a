"""Saving the open session, for `SessionController` (a mixin: the controller owns the state).

Autosave serialises and writes in one writer thread — a long session takes a second or more to
dump, which must not freeze the UI at the end of every reply — and reports back with a
`SessionWritten` message. Writes run one at a time, in order. No torch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from ..session import Session, SessionError
from ..session_store import SessionStore, forked_note
from .messages import SessionWritten
from .widgets.sampling_panel import SamplingPanel

if TYPE_CHECKING:
    from .app import BabyGPTApp


def writer() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-writer")


@dataclass(frozen=True)
class _SaveJob:
    session: Session  # the open session object that was saved
    copy: Session  # what was written: its finished turns
    state: tuple[object, ...]  # SessionController._state() then
    was_on_disk: bool


class SessionSaving:
    """The saving half of `SessionController`; these attributes are the controller's."""

    app: BabyGPTApp
    session: Session
    store: SessionStore
    on_disk: bool
    _saved: tuple[object, ...] | None  # _state() at the last write
    last_error: str
    _writer: ThreadPoolExecutor

    @property
    def panel(self) -> SamplingPanel:
        return self.app.query_one(SamplingPanel)

    def _snapshot(self) -> Session:
        """The open session with the sidebar's current settings and the loaded model."""
        s, chat = self.session, self.app.chat
        s.turns = chat.turns
        try:
            panel = self.panel
            s.params, s.context_mode = panel.params, panel.context_mode
            s.seed_mode, s.fixed_seed = panel.seed_mode, panel.seed_value
        except NoMatches:  # quitting from an error screen: nothing was shown
            pass
        if chat.model.name:
            s.model = chat.model
        return s

    def _state(self) -> tuple[object, ...]:
        s = self.session
        last = s.turns[-1] if s.turns else None
        return (
            s.name,
            len(s.turns),
            id(last),
            last.finished_at if last else "",
            s.params,
            s.seed_mode,
            s.fixed_seed,
            s.context_mode,
            s.model,
        )

    def finished_copy(self, snapshot: Session | None = None) -> Session:
        """The session without a reply still being generated (it is saved when it ends);
        `snapshot`: a `_snapshot()` just taken, so the sidebar is not read twice."""
        s = snapshot or self._snapshot()
        return replace(s, turns=[t for t in s.turns if t is not self.app.chat.active])

    def save(self, force: bool = False, wait: bool = True) -> Path | None:
        """Write the session if it changed (`force`: always); a failure is a notification.

        `wait=False` (autosave after a reply) serialises and writes in the writer thread — a long
        session takes a second or more to dump — and reports back with a `SessionWritten`
        message. Writes run one at a time, in order; `wait=True` waits for earlier ones."""
        s = self._snapshot()
        if not force and (self._state() == self._saved or not (s.turns or self.on_disk)):
            return None
        if not self.on_disk and self._exists(s.name):  # the name was taken meanwhile: never overwrite
            s.name = self.app.title = self.store.unique_name(s.name)
        job = _SaveJob(s, self.finished_copy(s), self._state(), self.on_disk)
        self.on_disk, self._saved = True, job.state  # as if written; a failure undoes it
        future = self._writer.submit(self._write, job.copy)
        if not wait:
            future.add_done_callback(lambda f: self.app.post_message(SessionWritten(job, *f.result())))
            return None
        path, error = future.result()
        return self.written(SessionWritten(job, path, error))

    def _write(self, copy: Session) -> tuple[Path | None, str]:
        """In the writer thread: never raises (a bug in a save must not take the app down)."""
        try:
            return self.store.save(copy), ""
        except SessionError as e:
            return None, str(e)
        except Exception as e:  # noqa: BLE001
            return None, f"session {copy.name!r} not saved: {type(e).__name__}: {e}"

    def written(self, message: SessionWritten) -> Path | None:
        job: _SaveJob = message.job  # type: ignore[assignment]
        if message.error:
            self.last_error = message.error  # also printed after quitting, when no notification can be seen
            if self._saved == job.state and self.session is job.session:  # nothing newer was written
                self._saved, self.on_disk = None, job.was_on_disk  # the next save tries again
            self.app.notify(message.error, title="Session not saved", severity="error", markup=False, timeout=10)
            return None
        self.last_error = ""
        job.session.created_at, job.session.updated_at = job.copy.created_at, job.copy.updated_at
        if job.copy.name != job.session.name:  # another window changed the file: the store kept both
            self.app.notify(
                forked_note(job.session.name, job.copy.name), title="Saved under a new name", markup=False, timeout=10
            )
            job.session.name = job.copy.name
            if self.session is job.session:
                self.app.title = job.copy.name
        return message.path  # type: ignore[return-value]

    def flush(self) -> None:
        """Wait for writes still running in the writer thread (before files are renamed or read)."""
        self._writer.submit(lambda: None).result()

    def save_now(self) -> None:
        if (path := self.save(force=True)) is not None:
            self.app.notify(f"Saved session {self.session.name!r} to {path}", markup=False)

    def _exists(self, name: str) -> bool:
        try:
            return self.store.exists(name)
        except SessionError:
            return False
