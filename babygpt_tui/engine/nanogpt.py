"""nanoGPT's character vocabulary: `meta.pkl` read safely, and found next to a `ckpt.pt`.

nanoGPT's `data/shakespeare_char/prepare.py` pickles `{'vocab_size', 'itos', 'stoi'}` next to the
data, and `sample.py` looks for it in `data/<dataset>/`. A pickle can run any code on load, so
ours admits no globals at all (no class, no function, no `__reduce__`): what comes out can only
be built-in containers and scalars, and we keep only dicts, lists, strings and ints.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .tokenizer import CharTokenizer

META = "meta.pkl"
MAX_META_BYTES = 16 << 20  # a character vocabulary is kilobytes; anything this large is not one
_ALLOWED = (dict, list, str, int)


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}, and only plain data is read")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused: the pickle refers to external objects")


def read_meta(path: Path) -> CharTokenizer:
    """The vocabulary of a nanoGPT `meta.pkl`, or a one-line CheckpointError naming the file."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_META_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
    if len(data) > MAX_META_BYTES:
        raise CheckpointError(f"{path}: larger than {MAX_META_BYTES >> 20} MB, not a character vocabulary (meta.pkl)")
    try:
        obj = _NoGlobals(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except Exception as e:  # a damaged pickle fails in many ways (EOF, bad opcodes, memo errors)
        raise CheckpointError(f"{path}: not a readable meta.pkl ({type(e).__name__})") from None
    _check_plain(obj, path)
    try:
        return CharTokenizer(_chars(obj))
    except ValueError as e:
        raise CheckpointError(f"{path}: not a character vocabulary: {e}") from None


def _check_plain(obj: Any, path: Path) -> None:
    todo = [obj]
    while todo:
        item = todo.pop()
        if type(item) not in _ALLOWED:
            raise CheckpointError(
                f"{path}: holds a {type(item).__name__}; a meta.pkl has only dicts, lists, strings and ints"
            )
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)


def _chars(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        raise ValueError("expected a dict with itos (or stoi)")
    itos, stoi = obj.get("itos"), obj.get("stoi")
    if isinstance(itos, dict):
        table = itos
    elif isinstance(stoi, dict):
        if not all(type(i) is int for i in stoi.values()):
            raise ValueError("stoi maps a character to something other than an id")
        table = {i: c for c, i in stoi.items()}
        if len(table) != len(stoi):
            raise ValueError("stoi gives two characters the same id")
    else:
        raise ValueError("no itos or stoi table")
    if set(table) != set(range(len(table))):
        raise ValueError("its ids are not 0..N-1")
    size = obj.get("vocab_size", len(table))
    if size != len(table):
        raise ValueError(f"vocab_size says {size!r} but the table has {len(table)} entries")
    return [table[i] for i in range(len(table))]


def is_meta(path: Path) -> bool:
    """A pickle, not a text corpus (for --vocab-from, which takes either)."""
    if path.suffix == ".pkl":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"\x80"  # every pickle protocol >= 2 starts with PROTO
    except OSError:
        return False


def find_meta(ckpt: Path, dataset: str | None, vocab_size: int) -> Path:
    """`meta.pkl` next to the checkpoint, else in `data/<dataset>/` (as nanoGPT's sample.py looks:
    from the folder above the checkpoint's, then the working directory), else the one
    `data/*/meta.pkl` of the right vocabulary size."""
    beside = ckpt.parent / META
    if beside.is_file():
        return beside
    roots = list(dict.fromkeys([ckpt.resolve().parent.parent, Path.cwd()]))
    if dataset and Path(dataset).name == dataset and dataset not in (".", ".."):
        for root in roots:
            candidate = root / "data" / dataset / META
            if candidate.is_file():
                return candidate
    fitting = []
    for root in roots:
        for candidate in sorted((root / "data").glob(f"*/{META}")):
            try:
                if read_meta(candidate).vocab_size == vocab_size:
                    fitting.append(candidate)
            except CheckpointError:
                continue
    if len(fitting) == 1:
        return fitting[0]
    if fitting:
        shown = ", ".join(str(p) for p in fitting[:3])
        raise CheckpointError(f"{ckpt}: several meta.pkl files fit ({shown}); pass --vocab-from one of them")
    where = f"data/{dataset if dataset.isprintable() else repr(dataset)}/" if dataset else "data/*/"
    raise CheckpointError(
        f"{ckpt}: a nanoGPT model needs its meta.pkl (the character vocabulary): none next to it or in {where}; "
        "pass --vocab-from PATH/meta.pkl"
    )
