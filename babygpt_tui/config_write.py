"""Writing config.toml: `config init` and the TUI's "Save as defaults".

The user owns config.toml, so a write never drops their other keys or their comments:
"Save as defaults" edits the document with tomlkit (style- and comment-preserving), sets only the
keys it saves — in place where the key is already set, at the end of its table otherwise — and
checks the result reads back as the old settings plus the new values. A file that does not parse
is reported as a ConfigError and left alone. Writes are atomic.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, Table

from . import paths
from .api import SamplingParams
from .atomic import write_atomic
from .config import MAX_CONFIG_BYTES, ConfigError, check_value, parse_config_text
from .config_example import EXAMPLE_CONFIG
from .output import why
from .safe_read import FileRefused, read_capped


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
    try:  # capped, as the reader is: a FIFO or a huge file here is refused, never read whole
        text = read_capped(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileNotFoundError:
        text = EXAMPLE_CONFIG
    except FileRefused as e:
        raise ConfigError(f"{path}: cannot read it ({e}); not changed") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e}); not changed") from None
    parse_config_text(text, origin=str(path))  # a broken file is reported, never replaced
    new_text = edit_toml(text, updates)
    if tomllib.loads(new_text) != _applied(tomllib.loads(text), updates):  # a bug, never a user error
        raise AssertionError(f"editing {path} changed more than the saved keys")
    _write(path, new_text)
    return path


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {why(e)}; the previous file is unchanged") from None


def _applied(document: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """What the document should read as after `edit_toml`: the old values plus the updates."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in document.items()}
    for dotted, value in updates.items():
        *tables, key = dotted.split(".")
        target = out
        for name in tables:
            target = target.setdefault(name, {})
        target[key] = value
    return out


def edit_toml(text: str, updates: dict[str, Any]) -> str:
    """Set dotted keys (`theme`, `sampling.top_k`) in a TOML document, keeping everything else."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:  # tomllib accepted it (checked before): tomlkit's own limits
        raise ConfigError(f"cannot edit this TOML file ({e}); set the keys by hand") from None
    for dotted, value in updates.items():
        *tables, key = dotted.split(".")
        target: Any = doc
        for name in tables:
            if name not in target:
                target[name] = tomlkit.table()
            target = target[name]
        if isinstance(target, Table) and key not in target:
            body = target.value.body
            if body and isinstance(body[-1][1], Comment):
                target.add(tomlkit.nl())  # new keys start a paragraph below the documentation
            target.add(key, value)
        else:
            target[key] = value  # in place: tomlkit keeps the line's comment
    return tomlkit.dumps(doc)
