"""Corpus reading and the train/validation split.

The split is by poem (blocks separated by blank lines), decided by a seeded shuffle, so no poem
leaks into both sides — a character cut would put half of one poem in each.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from ..safe_read import FileRefused, read_capped
from .errors import DataError

BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
# Character-level corpora for models this size are a few MB (tiny Shakespeare is 1 MB); 256 MiB is
# far past any of them and still fits in memory as text, while /dev/zero or a disk image does not.
MAX_CORPUS_BYTES = 256 * 1024 * 1024


def read_corpus(path: str | Path, flag: str = "--data", limit: int = MAX_CORPUS_BYTES) -> str:
    """The text of a UTF-8 corpus, a regular file of at most `limit` bytes; every problem is a
    one-line DataError naming the file and `flag` (how it was given: `--data`, `--vocab-from`,
    `score FILE`)."""
    path = Path(path)
    hint = f"{flag} takes a UTF-8 text file of at most {limit / 2**20:g} MiB"
    try:
        raw = read_capped(path, limit)
    except FileNotFoundError:
        raise DataError(f"{path}: corpus not found; {hint}") from None
    except FileRefused as e:
        raise DataError(f"{path}: {e}; {hint}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e}); {hint}") from None
    try:
        # Universal newlines, as open(path).read() in the original scripts: the vocabulary of a
        # corpus with Windows line endings must not gain "\r".
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); convert it to UTF-8") from None
    if not text.strip():
        raise DataError(f"{path}: corpus is empty")
    return text


def split_poems(text: str) -> list[str]:
    return [p.strip("\n") for p in BLANK_LINES.split(text) if p.strip()]


def join_poems(poems: list[str]) -> str:
    return "\n\n".join(poems) + "\n" if poems else ""


def train_val_split(text: str, val_fraction: float = 0.05, seed: int = 1337) -> tuple[str, str]:
    """Split whole poems into train and validation text, reproducibly from `seed`."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val fraction {val_fraction} is out of range (allowed: above 0 and below 1)")
    poems = split_poems(text)
    if len(poems) < 2:
        raise DataError(
            "corpus has fewer than 2 poems (blocks separated by a blank line); a validation split needs at least 2"
        )
    order = list(range(len(poems)))
    random.Random(seed).shuffle(order)
    n_val = min(len(poems) - 1, max(1, round(len(poems) * val_fraction)))
    val_idx = set(order[:n_val])
    # Keep corpus order inside each side; the shuffle only decides membership.
    train = [p for i, p in enumerate(poems) if i not in val_idx]
    val = [p for i, p in enumerate(poems) if i in val_idx]
    return join_poems(train), join_poems(val)
