"""Reading a file the user named, with a size cap: sessions, corpora, vocabularies. No torch.

`/dev/zero`, a FIFO nobody writes to, or a disk image passed by mistake must not hang the
program or fill the memory (`score /dev/zero` grew to 5.5 GB in 6 s). Only regular files are
read (links followed), and never more than `limit` bytes: a file that grows while it is read
is refused like one that was too large to begin with.
"""

from __future__ import annotations

import os
import stat

KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileRefused(Exception):
    """Not a regular file, or larger than the cap; `str(e)` says which, for the caller's message."""


def read_capped(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; FileRefused otherwise,
    OSError if the system refuses (not found, permission denied)."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise FileRefused(f"is {kind}, not a regular file")
        if st.st_size > limit:
            raise FileRefused(f"is too large ({st.st_size:,} bytes; at most {limit:,} are read)")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileRefused(f"is too large (more than {limit:,} bytes, and still growing)")
        return b"".join(chunks)
    finally:
        os.close(fd)
