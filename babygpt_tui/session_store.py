"""SessionStore: the folder of session files — list, search, load, save, rename, delete.

Sessions are addressed by their name (what the user typed); the file name is only a safe slug of
it (`Poems / draft` -> `poems-draft.json`, `-2`, `-3`… on a collision), so names may contain
`/`, `..`, any Unicode, and the folder still holds nothing but plain `*.json` files. Finding a
session by name reads the files, with a cache keyed on (mtime, size) so a listing after a save
reads only what changed.

A file that does not load (corrupt, truncated, newer schema, unreadable, a name no user could
type) is listed with the reason and is never overwritten: a new session whose slug is taken by it
gets another file name.

Two windows on one session: a save never overwrites a file another window (or process) wrote
since this copy of the session was read or last saved. The file's `updated_at` is its revision:
each save stamps a new one, so a file whose `updated_at` is neither this copy's nor the last one
this store wrote has been changed elsewhere, and the session is saved under a new name instead
(`poems` -> `poems 2`; the caller compares `session.name` before and after to tell the user).
A session that was saved before and whose file is gone (`sessions delete` in another terminal)
is not silently re-created: the save raises `SessionDeleted`, once; saving again re-creates it.
No torch, no textual.
"""

from __future__ import annotations

import builtins  # `list` is a method name here: annotations inside the class use builtins.list
import datetime
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths
from .atomic import TEMP_SUFFIX, write_atomic
from .escape import escape_controls
from .output import why as _why
from .safe_read import FileRefused, read_capped
from .session import ModelRef, Session, SessionError, dumps_session, loads_session, utc_now

STALE_TEMP_SECONDS = 3600  # temp files older than this are leftovers of a killed write

MAX_FILE_BYTES = 256 * 1024 * 1024  # a session is kilobytes to a few MB; refuse to slurp a disk image
SLUG_MAX = 48  # characters; up to 4 UTF-8 bytes each stays well under the usual 255-byte limit
NAME_MAX = 200
SESSION_FILE_MODE = 0o600  # new session files: chats are private (an existing file keeps its mode)
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True)
class SessionInfo:
    """One row of the sessions list."""

    name: str  # the session's name; for an unreadable file, the file name
    path: Path
    last_used: datetime.datetime  # updated_at of the session, else the file's modification time (UTC)
    model: str = ""  # ModelRef.short of the session's model
    turns: int = 0
    error: str = ""  # why the file could not be loaded; "" when it loaded
    updated_at: str = ""  # the file's revision (see the module docstring); "" for an unreadable file
    preview: str = ""  # the first prompt (or the first line of the first reply), to tell sessions apart

    @property
    def readable(self) -> bool:
        return not self.error


def preview(session: Session) -> str:
    """One line that says what a session is about: its first prompt, or for a first turn with an
    empty prompt (a new poem) the first line of its reply; "" with no turns."""
    for turn in session.turns:
        text = turn.prompt.strip() or turn.reply.strip()
        if text:
            return escape_controls(" ".join(text.split("\n", 1)[0].split()))
    return ""


def slugify(name: str) -> str:
    """A file-name-safe, case-folded form of a session name (never empty, never a path)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")[:SLUG_MAX].strip("-_")
    if not slug:
        return "session"
    return f"session-{slug}" if slug in WINDOWS_RESERVED else slug


def check_name(name: str) -> str:
    """A session name as typed by a user, stripped; SessionError if it is unusable."""
    name = name.strip()
    if not name:
        raise SessionError("a session name cannot be empty")
    if len(name) > NAME_MAX:
        raise SessionError(f"a session name can have at most {NAME_MAX} characters (this one has {len(name)})")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise SessionError("a session name cannot contain control characters such as newlines or tabs")
    return name


def _from_iso(text: str) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


class SessionDeleted(SessionError):
    """The session's file was deleted (or renamed) elsewhere since it was last saved or read."""


def forked_note(old: str, new: str) -> str:
    """What to tell the user when `save` wrote the session under a new name."""
    return (
        f"Session {old!r} was changed in another window since it was opened here; to keep both, "
        f"this window's chat is saved as {new!r}."
    )


class SessionStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory else paths.sessions_dir()
        self._cache: dict[Path, tuple[tuple[int, int, int], SessionInfo]] = {}
        self._written: dict[Path, str] = {}  # the revision this store last wrote to each file
        self._told_deleted: set[str] = set()  # names whose SessionDeleted was raised once already

    # ----- reading -------------------------------------------------------------------------
    def list(self) -> list[SessionInfo]:
        """Every session file, most recently used first; unreadable ones included with the reason."""
        try:
            files = list(self.directory.iterdir())
            entries = [p for p in files if p.suffix == ".json" and not p.name.startswith(".") and p.is_file()]
            self._remove_stale_temp_files(files)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise SessionError(f"cannot list the sessions folder {self.directory}: {_why(e)}") from None
        infos = [self._info(p) for p in entries]
        self._cache = {i.path: self._cache[i.path] for i in infos if i.path in self._cache}
        return sorted(infos, key=lambda i: (i.last_used, i.name), reverse=True)

    def last_used(self) -> SessionInfo | None:
        """The most recently used session that loads (`--continue`), or None."""
        return next((info for info in self.list() if info.readable), None)

    @staticmethod
    def _remove_stale_temp_files(files: builtins.list[Path]) -> None:
        """Delete temp files a killed write left behind (an hour old: no write takes that long,
        so none of them belongs to a save still running in another window). Best effort."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for p in files:
            if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX):
                try:
                    if p.stat().st_mtime < cutoff:
                        p.unlink()
                except OSError:
                    pass

    def search(self, query: str) -> builtins.list[SessionInfo]:
        """The listed sessions whose name contains `query`, ignoring case."""
        needle = query.strip().casefold()
        return [i for i in self.list() if needle in i.name.casefold()]

    def find(self, name: str) -> SessionInfo | None:
        """The session called `name` (the most recent if several), else an unreadable file of that name."""
        infos = self.list()
        for info in infos:
            if info.readable and info.name == name:
                return info
        for info in infos:
            if not info.readable and name in (info.path.name, info.path.stem):
                return info
        return None

    def exists(self, name: str) -> bool:
        info = self.find(name)
        return info is not None and info.readable

    def load(self, name: str) -> Session:
        info = self.find(name)
        if info is None:
            raise SessionError(f"no session named {name!r} in {self.directory} (see `babygpt-tui sessions list`)")
        if not info.readable:
            raise SessionError(info.error)
        return self.load_path(info.path)

    def load_path(self, path: Path) -> Session:
        path = Path(path)
        try:
            raw = read_capped(path, MAX_FILE_BYTES)
            mtime = path.stat().st_mtime
        except FileRefused as e:
            raise SessionError(f"{path}: {e}; not a session file") from None
        except OSError as e:
            raise SessionError(f"{path}: cannot read it: {_why(e)}") from None
        session = loads_session(raw, origin=str(path))
        try:  # a name from a file obeys the rules of a typed one (nothing to print raw, never "")
            check_name(session.name)
        except SessionError as e:
            raise SessionError(f"{path}: name: {e}") from None
        if not session.updated_at:  # a file from before updated_at: its revision is its mtime
            session.updated_at = datetime.datetime.fromtimestamp(mtime, datetime.UTC).isoformat(timespec="microseconds")
        return session

    def _info(self, path: Path) -> SessionInfo:
        try:
            st = path.stat()
        except OSError as e:
            when = datetime.datetime.now(datetime.UTC)
            return SessionInfo(path.name, path, when, error=f"{path}: cannot read it: {_why(e)}")
        key = (st.st_ino, st.st_mtime_ns, st.st_size)  # a save by another window is a new inode
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        mtime = datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC)
        try:
            session = self.load_path(path)
        except SessionError as e:
            info = SessionInfo(path.name, path, mtime, error=str(e))
        else:
            info = self._row(session, path, mtime)
        self._cache[path] = (key, info)
        return info

    @staticmethod
    def _row(session: Session, path: Path, mtime: datetime.datetime) -> SessionInfo:
        when = _from_iso(session.updated_at) or mtime
        return SessionInfo(
            session.name,
            path,
            when,
            session.current_model.short,
            len(session.turns),
            updated_at=session.updated_at,
            preview=preview(session),
        )

    # ----- writing -------------------------------------------------------------------------
    def save(self, session: Session) -> Path:
        """Write the session atomically (stamping updated_at); SessionError if the disk refuses.

        If another window changed the file since this copy was read or last saved here, the
        session is saved under a new name (`session.name` changes; `forked_note` says so). If
        its file was deleted meanwhile, SessionDeleted — once: a second save re-creates it."""
        check_name(session.name)  # never write a name the loader would refuse
        name = session.name
        info = self.find(name)
        if info is not None and info.readable:
            if info.updated_at in (session.updated_at, self._written.get(info.path)):
                return self._write(session, info.path)
            session.name = self.unique_name(name)  # changed elsewhere: keep both
            return self._write(session, self._new_path(session.name))
        if session.updated_at and name not in self._told_deleted:  # it was saved, and is gone
            self._told_deleted.add(name)
            raise SessionDeleted(
                f"session {name!r} was deleted or renamed outside this window since it was last saved, "
                "so it was not re-created; save again to keep it (Ctrl+S)"
            )
        self._told_deleted.discard(name)
        return self._write(session, self._new_path(name))

    def _new_path(self, name: str) -> Path:
        slug = slugify(name)
        n = 1
        while (path := self.directory / (f"{slug}.json" if n == 1 else f"{slug}-{n}.json")).exists():
            n += 1  # taken by another session, or by an unreadable file we must not overwrite
        return path

    def _write(self, session: Session, path: Path, touch: bool = True) -> Path:
        now, before = utc_now(), (session.created_at, session.updated_at)
        session.created_at = session.created_at or now
        if touch or not session.updated_at:
            session.updated_at = now
        try:
            write_atomic(path, dumps_session(session), new_mode=SESSION_FILE_MODE)
        except OSError as e:
            session.created_at, session.updated_at = before  # still the revision that is on disk
            raise SessionError(
                f"could not save session {session.name!r} to {path}: {_why(e)}; the previous version is unchanged"
            ) from None
        self._written[path] = session.updated_at
        try:
            st = path.stat()
            info = self._row(session, path, datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC))
            self._cache[path] = ((st.st_ino, st.st_mtime_ns, st.st_size), info)
        except OSError:
            pass  # the cache is only an optimisation
        return path

    def rename(self, old: str, new: str) -> Session:
        """Rename a session (its file follows); SessionError if `new` is taken or unusable."""
        new = check_name(new)
        info = self.find(old)
        if info is None or not info.readable:
            return self.load(old)  # raises the right message
        if new == old:
            return self.load_path(info.path)
        if self.exists(new):
            raise SessionError(f"a session named {new!r} already exists; choose another name")
        session = self.load_path(info.path)
        session.name = new
        # Same slug (e.g. only the case changed): replace in place; else write the new file
        # first, then remove the old one, so a crash in between leaves a copy, never nothing.
        same = info.path.stem == slugify(new)
        # Renaming is not "using": keep updated_at so the list does not reorder under the cursor.
        path = self._write(session, info.path if same else self._new_path(new), touch=False)
        if path != info.path:
            self._unlink(info.path, f"renamed to {new!r}, but could not remove the old file")
        return session

    def delete(self, name: str) -> Path:
        """Delete a session (or an unreadable file, by its file name); returns the removed path."""
        info = self.find(name)
        if info is None:
            raise SessionError(f"no session named {name!r} in {self.directory} (see `babygpt-tui sessions list`)")
        self._unlink(info.path, f"could not delete session {name!r}")
        return info.path

    def _unlink(self, path: Path, what: str) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise SessionError(f"{what} {path}: {_why(e)}") from None
        self._cache.pop(path, None)
        self._written.pop(path, None)

    # ----- creating ------------------------------------------------------------------------
    def unique_name(self, base: str = "session") -> str:
        """`base`, or `base 2`, `base 3`… — the first no listed session uses."""
        base = check_name(base)
        taken = {i.name for i in self.list() if i.readable}
        name, n = base, 1
        while name in taken:
            n += 1
            suffix = f" {n}"
            name = base[: NAME_MAX - len(suffix)].rstrip() + suffix  # still a name the loader accepts
        return name

    def new_session(self, name: str | None = None, **fields: Any) -> Session:
        """A new, not yet saved session with a unique name; `fields` are Session fields."""
        model = fields.pop("model", None) or ModelRef("")
        return Session(name=self.unique_name(name or "session"), model=model, created_at=utc_now(), **fields)

    def open_or_create(self, name: str) -> Session:
        """For `--session NAME`: the saved session, else a new unsaved one with exactly that name."""
        name = check_name(name)
        if self.find(name) is not None:
            return self.load(name)
        return Session(name=name, created_at=utc_now())
