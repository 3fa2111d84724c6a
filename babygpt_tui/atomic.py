"""Writing a file the user named: crash-safe, through links, never a device replaced.

Sessions, config.toml, exports and checkpoints are all written here, by one set of rules:

- **Links are followed**, as a shell's `>` follows them: `-o link.md` writes the link's target
  and a `config.toml` symlinked from a dotfiles repository stays a symlink. The link is never
  replaced by a private copy.
- **Regular files are replaced atomically**: the bytes go to a temporary file in the target's own
  directory (so `os.replace` is a rename within one filesystem, atomic on POSIX and Windows), are
  fsynced, and only then take the old name; the directory is fsynced afterwards where the OS
  allows it. A reader, or a crash at any instant, sees the old file or the new one, never a mix.
  The new file keeps the old one's permission bits (and, as root, its owner); a new file gets
  `new_mode` filtered by the umask, as any program's would.
- **Anything else is written in place**: a device (`/dev/null`), a FIFO, or the descriptor that
  `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` name (so `-o /dev/stdout >> log` appends, as it would
  with `cat`). Replacing them would turn `/dev/null` into a regular file for every program.
- **Every byte is checked**: a short write continues, a refusal (full disk, closed descriptor)
  raises OSError. Any failure removes the temporary file and leaves the previous file untouched;
  callers turn the OSError into a one-line message (`output.why` words the reason).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .output import write_all

TEMP_SUFFIX = ".tmp"  # listings skip dot-files ending in this (leftovers of a kill -9)
SYMLOOP_MAX = 40  # links followed before giving up, as Linux does
# Names of this process's own descriptors: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N.
_FD_NAME = re.compile(r"/dev/(?:(stdin)|(stdout)|(stderr)|fd/(\d+))|/proc/(self|\d+)/fd/(\d+)")


def write_atomic(path: str | os.PathLike[str], data: bytes, new_mode: int = 0o666) -> None:
    """Write `data` to the file `path` names (see the module docstring for the rules)."""
    with atomic_path(path, new_mode) as tmp:
        fd = os.open(tmp, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        try:
            write_all(fd, data)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], new_mode: int = 0o666) -> Iterator[Path]:
    """For writers that need a file name (safetensors, torch.save): yields a temporary file to
    write; when the block ends without an exception it takes `path`'s place by the same rules
    as `write_atomic`. On any exception it is removed and `path` is left as it was."""
    target = resolve(path)
    if isinstance(target, int):
        with _staged(Path(tempfile.gettempdir()), "output", 0o600) as tmp:
            yield tmp
            _copy_into(tmp, target)
        return
    st = _stat(target)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    if st is not None and not stat.S_ISREG(st.st_mode):  # device, FIFO, socket: write into it
        with _staged(Path(tempfile.gettempdir()), target.name, 0o600) as tmp:
            yield tmp
            fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
            try:
                _copy_into(tmp, fd)
            finally:
                os.close(fd)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with _staged(target.parent, target.name, new_mode, like=st) as tmp:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    _fsync_dir(target.parent)


def resolve(path: str | os.PathLike[str]) -> Path | int:
    """The file a write to `path` reaches: its symlinks followed (also in its directories), or
    the descriptor number for a name of one of this process's own descriptors."""
    current = os.path.join(os.getcwd(), os.fspath(path))  # not normalised: `..` follows links
    for _ in range(SYMLOOP_MAX):
        fd = _own_fd(current)
        if fd is not None:
            return fd
        # Resolve the directories first, so a relative link target is read from the right place.
        current = os.path.join(os.path.realpath(os.path.dirname(current)), os.path.basename(current))
        fd = _own_fd(current)
        if fd is not None:
            return fd
        try:
            link = os.readlink(current)
        except OSError:  # not a link (EINVAL), or absent (ENOENT): this is the file
            return Path(current)
        current = os.path.join(os.path.dirname(current), link)  # an absolute `link` replaces it all
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))


def _own_fd(name: str) -> int | None:
    m = _FD_NAME.fullmatch(name)
    if m is None:
        return None
    stdin, stdout, stderr, dev_fd, pid, proc_fd = m.groups()
    if pid is not None and pid != "self" and int(pid) != os.getpid():
        return None  # another process's descriptor: only reachable through its link
    if stdin or stdout or stderr:
        return 0 if stdin else 1 if stdout else 2
    return int(dev_fd if dev_fd is not None else proc_fd)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _staged(directory: Path, name: str, mode: int, like: os.stat_result | None = None) -> Iterator[Path]:
    """A new, empty temporary file `.NAME.XXXXXXXX.tmp` in `directory`, removed on any failure
    (BaseException too: a Ctrl+C mid-write must not leave it behind) and after a copy."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, flags, mode)  # the umask filters `mode`, as for any new file
            break
        except FileExistsError:
            continue
    try:
        try:
            if like is not None:
                _copy_owner_and_mode(fd, like)
        finally:
            os.close(fd)
        yield tmp
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # after os.replace the name is gone: nothing to remove
        os.unlink(tmp)


def _copy_owner_and_mode(fd: int, like: os.stat_result) -> None:
    """The replacement keeps the old file's owner (possible as root) and permission bits."""
    if hasattr(os, "fchown") and (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # not root: the file becomes ours, as any editor's save
            os.fchown(fd, like.st_uid, like.st_gid)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(like.st_mode))


def _copy_into(source: Path, fd: int) -> None:
    with open(source, "rb") as f:
        while chunk := f.read(1 << 20):
            write_all(fd, chunk)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename. Best effort: Windows cannot open a directory, some filesystems refuse."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
