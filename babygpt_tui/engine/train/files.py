"""Where a run writes (the model, its resume state, metrics.jsonl) and what a failed write says.

Every write problem becomes a one-line DataError naming the file and the cause; the output path
is checked before the first step, so a read-only folder fails at once instead of after an eval
interval of work.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path

from ..errors import DataError

RESUME_SUFFIX = ".resume.pt"
METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "loss.svg"
OS_ERROR_IN_MESSAGE = re.compile(r"\(os error (\d+)\)")

REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + RESUME_SUFFIX)


def metrics_path(out: Path) -> Path:
    return out.with_name(METRICS_NAME)


def plot_path(out: Path) -> Path:
    return out.with_name(PLOT_NAME)


def reason(e: OSError) -> str:
    return REASONS.get(e.errno or 0, e.strerror or str(e))


def as_os_error(e: Exception) -> OSError | None:
    """The OSError behind a write failure; safetensors reports one only in its message
    ("I/O error: No space left on device (os error 28)")."""
    if isinstance(e, OSError):
        return e
    found = OS_ERROR_IN_MESSAGE.search(str(e))
    return OSError(int(found[1]), os.strerror(int(found[1]))) if found else None


def write_error(path: Path, e: OSError, saved_iter: int | None = None) -> DataError:
    """`path: cannot write (the disk is full); <where the saved state stands>`."""
    where = (
        f"; the last saved state is at iteration {saved_iter} (free some space, then add --resume)"
        if saved_iter is not None and saved_iter > 0
        else "; nothing was saved"
        if saved_iter is not None
        else ""
    )
    return DataError(f"{path}: cannot write ({reason(e)}){where}")


def check_out(out: Path, resume: bool) -> Path:
    """The path to write the model to: symlinks resolved (the link is kept, its target written),
    its folder created and known to be writable, and no earlier run's progress overwritten."""
    out = Path(out)
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    if out.is_dir():
        raise DataError(f"{out}: is a folder; give --out a file path such as {out / 'model.safetensors'}")
    if out.exists() and not out.is_file():
        raise DataError(f"{out}: is not a regular file; give --out a file path such as model.safetensors")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe.tmp", dir=out.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DataError(f"{out.parent}: cannot write the model there ({reason(e)}); pick another --out") from None
    state = resume_path(out)
    if state.exists() and not resume:
        # Starting over would overwrite an earlier run's progress at the first eval.
        raise DataError(
            f"{state}: an earlier run can be resumed here; add --resume to continue it, "
            "or delete that file (or pick another --out) to start over"
        )
    if resume and not state.is_file():
        raise DataError(f"{state}: nothing to resume (no resume file next to --out); drop --resume to start fresh")
    return out


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
