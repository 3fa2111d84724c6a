"""Writing config.toml: `config init` and the TUI's "Save as defaults".

The user owns config.toml, so a write never drops their other keys: "Save as defaults" edits
only the lines of the keys it sets (keeping comments, and uncommenting a documented default in
place), then re-parses the result; if the edit did not produce exactly the old document plus the
new values (an unusual layout, e.g. an inline `sampling = {...}` table) it falls back to
rewriting the whole document from its parsed values — comments are lost then, keys never are.
A file that does not parse is reported as a ConfigError and left alone. Writes are atomic.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from . import paths
from .api import SamplingParams
from .atomic import write_atomic
from .config import ConfigError, check_value, parse_config_text
from .config_example import EXAMPLE_CONFIG

HEADER_RE = re.compile(r"\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?")
ASSIGN_RE = re.compile(r"(\s*)(#\s*)?([A-Za-z0-9_-]+)\s*=\s*(.*)")
BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


def init_config(path: Path | None = None) -> Path:
    """Write the documented example config; a ConfigError if a file is already there."""
    path = Path(path) if path else paths.config_path()
    if path.exists():
        raise ConfigError(f"{path} already exists; not overwriting it (edit it, or remove it to start over)")
    _write(path, EXAMPLE_CONFIG)
    return path


def save_defaults(
    *,
    theme: str | None = None,
    params: SamplingParams | None = None,
    seed: int | str | None = None,
    path: Path | None = None,
) -> Path:
    """Store the TUI's theme and sampling defaults in config.toml; None leaves a value unchanged.

    `seed` is "random" or an integer. Starts from the documented example if there is no file yet.
    """
    path = Path(path) if path else paths.config_path()
    updates: dict[str, Any] = {}
    if theme is not None:
        updates["theme"] = check_value("theme", theme, "Save as defaults")
    if params is not None:
        for f in fields(SamplingParams):
            key = f"sampling.{f.name}"
            updates[key] = check_value(key, getattr(params, f.name), "Save as defaults")
    if seed is not None:
        check_value("sampling.seed", seed, "Save as defaults")  # never write what we would refuse to read
        updates["sampling.seed"] = seed
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = EXAMPLE_CONFIG
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e}); not changed") from None
    parse_config_text(text, origin=str(path))  # a broken file is reported, never replaced
    expected = _apply(tomllib.loads(text), updates)
    new_text = edit_toml(text, updates)
    try:
        ok = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    _write(path, new_text if ok else dumps_toml(expected))
    return path


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}; the previous file is unchanged") from None


def _apply(document: dict[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    for dotted, value in updates.items():
        *table, key = dotted.split(".")
        target = out
        for name in table:
            target = target.setdefault(name, {})
        target[key] = value
    return out


def _split_comment(rest: str) -> tuple[str, str]:
    """`value  # comment` -> ("value", "  # comment"): the first '#' after a complete TOML value."""
    for i, ch in enumerate(rest):
        if ch == "#":
            try:
                tomllib.loads("k = " + rest[:i])
            except tomllib.TOMLDecodeError:
                continue  # a '#' inside a string
            value = rest[:i].rstrip()
            return value, rest[len(value) :]
    return rest.rstrip(), ""


def edit_toml(text: str, updates: Mapping[str, Any]) -> str:
    """Set dotted keys in TOML text by editing lines; the caller verifies the result."""
    lines = text.splitlines()
    section, active, commented, ends = "", {}, {}, {"": 0}
    for i, line in enumerate(lines):
        header = HEADER_RE.fullmatch(line)
        if header:
            section = header.group(1)
            ends.setdefault(section, i + 1)
            continue
        if line.strip():
            ends[section] = i + 1  # insert new keys after the last non-blank line of the section
        m = ASSIGN_RE.fullmatch(line)
        if not m:
            continue
        dotted = f"{section}.{m.group(3)}" if section else m.group(3)
        if dotted not in updates:
            continue
        if not m.group(2):
            active[dotted] = i
        elif dotted not in commented:
            try:  # a commented-out default, not prose that happens to contain "word ="
                tomllib.loads(line.lstrip()[1:].lstrip())
                commented[dotted] = i
            except tomllib.TOMLDecodeError:
                pass
    inserts: dict[str, list[str]] = {}
    for dotted, value in updates.items():
        table, _, key = dotted.rpartition(".")
        i = active.get(dotted, commented.get(dotted))
        if i is None:
            inserts.setdefault(table, []).append(f"{key} = {toml_value(value)}")
            continue
        m = ASSIGN_RE.fullmatch(lines[i])
        assert m is not None
        _, comment = _split_comment(m.group(4))
        lines[i] = f"{m.group(1)}{key} = {toml_value(value)}{comment}"
    for table in sorted(inserts, key=lambda t: ends.get(t, len(lines) + 1), reverse=True):
        if table in ends:
            lines[ends[table] : ends[table]] = inserts[table]
        else:
            lines += ["", f"[{table}]", *inserts[table]]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A Python value (as tomllib returns them) as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_string(s: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:  # TOML wants every other control character escaped
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if BARE_KEY_RE.fullmatch(key) else toml_string(key)


def dumps_toml(document: Mapping[str, Any]) -> str:
    """A whole document: top-level values first, then one [table] per sub-dict."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for name, table in document.items():
        if isinstance(table, dict):
            lines += ["", f"[{toml_key(name)}]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"
