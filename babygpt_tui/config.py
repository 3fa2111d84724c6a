"""Settings: built-in defaults < config.toml < command-line flags, each value with its source.

`config.toml` is read with `tomllib` and checked key by key, so a mistake is reported as one line
naming the file, the key, the value and what is allowed (a `ConfigError`: the CLI exits 2, the
TUI shows an error screen). The result is a frozen `Settings`; the sampling part is the engine's
own `api.SamplingParams`, so a new sampling knob needs no change here. No torch, no textual.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeGuard

from . import paths
from .api import SamplingParams
from .errors import UserError
from .safe_read import FileRefused, read_capped

DEFAULT_SOURCE = "default"
CLI_SOURCE = "command line"
SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes 64-bit seeds; stay clear of the sign bit
DEVICE_RE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")
DTYPES = {
    "auto": "auto",
    "float32": "float32",
    "bfloat16": "bfloat16",
    "float16": "float16",
    "int8": "int8",
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
}
THEME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_CONFIG_BYTES = 1024 * 1024  # the documented example is 3 KB; `--config /dev/zero` must not fill the memory
# tomllib's time and memory grow with the square of a dotted key's length (a.a.a…: 10,000 parts
# took 400 MB); no real key has more than a few parts, so refuse long chains before parsing.
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
LONG_DOTTED_KEY = re.compile(rf"(?:^|[\[{{,])[ \t]*(?:{_KEY_PART}[ \t]*\.[ \t]*){{64,}}", re.MULTILINE)

Sources = dict[str, str]  # dotted key ("sampling.top_k") -> "default", a config path or "command line"


class ConfigError(UserError):
    """A config file or flag value the user has to fix; the message names file, key and value."""


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # None: the bundled model
    vocab_from: str | None = None  # corpus whose characters are an upstream model.pth's vocabulary
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0  # 0: one per core (the TUI's engine and serve: one fewer, a core left to draw and serve)
    compile: bool = False  # torch.compile the decode step (engine/compile.py)
    context_keep: int | None = None  # None: the engine's default (half the context window)
    sampling: SamplingParams = field(default_factory=SamplingParams)
    seed: int | None = None  # None: a fresh random seed for every reply
    stop: tuple[str, ...] = ()  # a reply ends before the first of these (generate, serve)
    theme: str = "textual-dark"
    autosave: bool = True
    server: str | None = None  # the TUI runs on this OpenAI-compatible server (its base URL) instead of here
    remote_model: str | None = None  # the model asked of the server (None: the first it lists)
    one_poem: bool | None = None  # TUI: stop at the blank line ending a poem; None: on for the bundled model
    continue_last: bool = False  # TUI: open the last used session at start (--continue), not a new one


class _Invalid(Exception):
    """Raised by a checker; carries what would have been allowed."""


def _show(value: Any) -> str:
    """A value as the user wrote it in TOML (true, "text", 1.5), shortened if huge."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)  # TOML true is a Python int subclass


def _path(v: Any) -> str | None:
    if not isinstance(v, str) or "\0" in v:
        raise _Invalid('a file path as a string, or "" for none')
    return v or None


def _device(v: Any) -> str:
    if not isinstance(v, str) or not DEVICE_RE.fullmatch(v.lower()):
        raise _Invalid('"auto", "cpu", "cuda", "cuda:N" or "mps"')
    return v.lower()


def _dtype(v: Any) -> str:
    if not isinstance(v, str) or v.lower() not in DTYPES:
        raise _Invalid('"auto", "float32", "bfloat16", "float16" or "int8"')
    return DTYPES[v.lower()]


def _threads(v: Any) -> int:
    if not _is_int(v) or not 0 <= v <= 1024:
        raise _Invalid("an integer from 0 (one per core) to 1024")
    return int(v)


def _context_keep(v: Any) -> int | None:
    if v == "auto":
        return None
    if not _is_int(v) or v < 0:
        raise _Invalid('"auto" or an integer of 0 or more (below the model\'s block_size)')
    return int(v)


def _seed(v: Any) -> int | None:
    if v == "random":
        return None
    if not _is_int(v) or not 0 <= v <= SEED_MAX:
        raise _Invalid(f'"random" or an integer from 0 to {SEED_MAX}')
    return int(v)


def _stop(v: Any) -> tuple[str, ...]:
    stops = [v] if isinstance(v, str) else v
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _Invalid('a string or a list of strings, none of them empty, e.g. ["\\n\\n"]')
    return tuple(stops)


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    """`\\n`, `\\t`, `\\r`, `\\\\` and `\\uXXXX` in a command-line value (a shell cannot easily pass
    a newline); ValueError for any other backslash."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ESCAPES:
            out.append(ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        else:
            shown = "\\" + nxt if nxt else "a lone \\ at the end"
            raise ValueError(f"unknown escape {shown} (use \\n, \\t, \\r, \\\\ or \\uXXXX)")
    return "".join(out)


def server_url(v: Any) -> str | None:
    """A server's base URL, normalised: no trailing slash and no `/v1` (requests add `/v1/...`)."""
    if not isinstance(v, str):
        raise _Invalid('a URL such as "http://127.0.0.1:8000" (or "" for none)')
    text = v.strip().rstrip("/")
    if not text:
        return None
    try:
        url = urllib.parse.urlsplit(text)
        url.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        raise _Invalid('a URL such as "http://127.0.0.1:8000"') from None
    if url.scheme not in ("http", "https") or not url.hostname or any(c.isspace() or ord(c) < 32 for c in text):
        raise _Invalid('an http:// or https:// URL such as "http://127.0.0.1:8000"')
    if url.username is not None or url.password is not None:
        raise _Invalid("a URL without user:password@ (give the key with --api-key or $BABYGPT_TUI_API_KEY)")
    if url.query or url.fragment:
        raise _Invalid('a URL without ?query or #fragment, such as "http://127.0.0.1:8000"')
    return text.removesuffix("/v1").rstrip("/")


def _remote_model(v: Any) -> str | None:
    if not isinstance(v, str) or any(ord(c) < 32 for c in v):
        raise _Invalid('a model name as the server lists it (GET /v1/models), or "" for its first')
    return v or None


def _theme(v: Any) -> str:
    # Which themes exist is the TUI's business (it falls back to the default for an unknown one).
    if not isinstance(v, str) or not THEME_RE.fullmatch(v):
        raise _Invalid('a theme name such as "textual-dark", "nord" or "gruvbox"')
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Invalid("true or false")
    return v


def _auto_bool(v: Any) -> bool | None:
    if v == "auto":
        return None
    if not isinstance(v, bool):
        raise _Invalid('"auto", true or false')
    return v


def _sampling_checker(name: str, kind: type) -> Callable[[Any], Any]:
    """Type check by the field's default, range check by SamplingParams.validate itself."""

    def check(v: Any) -> Any:
        if kind is int and not _is_int(v):
            raise _Invalid("an integer")
        if kind is float:
            if not (_is_int(v) or isinstance(v, float)):
                raise _Invalid("a number")
            try:
                v = float(v)  # an int too big for a float raises OverflowError
            except OverflowError:
                raise _Invalid("a number") from None
            if not math.isfinite(v):
                raise _Invalid("a finite number")
        try:
            replace(SamplingParams(), **{name: v}).validate()
        except ValueError as e:
            allowed = re.search(r"\(allowed: (.*)\)$", str(e))
            raise _Invalid(allowed.group(1) if allowed else str(e)) from None
        return v

    return check


# Every key, in the order `config show` prints them: dotted TOML key -> checker.
KEYS: dict[str, Callable[[Any], Any]] = {
    "model": _path,
    "vocab_from": _path,
    "device": _device,
    "dtype": _dtype,
    "threads": _threads,
    "compile": _bool,
    "context_keep": _context_keep,
    "theme": _theme,
    "autosave": _bool,
    "server": server_url,
    "remote_model": _remote_model,
    "one_poem": _auto_bool,
    "continue_last": _bool,
    **{f"sampling.{f.name}": _sampling_checker(f.name, type(f.default)) for f in fields(SamplingParams)},
    "sampling.seed": _seed,
    "sampling.stop": _stop,
}
SECTIONS = {"sampling"}
PATH_KEYS = ("model", "vocab_from")


def flag_name(key: str) -> str:
    """The command-line flag for a dotted key: sampling.top_k -> --top-k."""
    return "--" + key.rsplit(".", 1)[-1].replace("_", "-")


def check_value(key: str, value: Any, origin: str, shown_key: str | None = None) -> Any:
    """The value converted for Settings, or ConfigError naming origin, key, value and what's allowed."""
    try:
        return KEYS[key](value)
    except _Invalid as e:
        raise ConfigError(f"{origin}: {shown_key or key} = {_show(value)} is not allowed; use {e}") from None


def _unknown(key: str, origin: str) -> ConfigError:
    names = list(KEYS) + [k.rsplit(".", 1)[-1] for k in KEYS]
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], names, n=1)
    hint = ""
    if close:
        full = next(k for k in KEYS if k == close[0] or k.endswith("." + close[0]))
        hint = f" (did you mean {full!r}?)"
    return ConfigError(f"{origin}: unknown key {key!r}{hint}; see config.example.toml for every key")


def parse_config_data(data: Mapping[str, Any], origin: str = "config.toml") -> dict[str, Any]:
    """Check a parsed TOML document; return the values it sets, by dotted key."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {key} = {_show(value)} is not allowed; use a [{key}] table")
            for sub, subvalue in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in KEYS:
                    raise _unknown(dotted, origin)
                values[dotted] = check_value(dotted, subvalue, origin)
        elif key in KEYS:
            values[key] = check_value(key, value, origin)
        else:
            raise _unknown(key, origin)
    return values


def parse_config_text(text: str | bytes, origin: str = "config.toml") -> dict[str, Any]:
    """Parse and check config.toml text (see parse_config_data)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{origin}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    if LONG_DOTTED_KEY.search(text):
        raise ConfigError(f"{origin}: not a config file (a dotted key with 64 or more parts)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: not a config file (arrays or tables nested too deeply)") from None
    except ValueError:  # tomllib's int() of a number past Python's digit limit (4,300 by default)
        raise ConfigError(f"{origin}: not a config file (a number with thousands of digits)") from None
    return parse_config_data(data, origin)


def read_config_file(path: Path, missing_ok: bool = False) -> dict[str, Any]:
    """The checked values a config file sets; {} if it does not exist and missing_ok."""
    try:
        raw = read_capped(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ConfigError(f"{path}: no such config file (create one with `babygpt-tui config init`)") from None
    except FileRefused as e:
        raise ConfigError(f"{path}: cannot read it ({e}); a config file is a TOML text file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
    return parse_config_text(raw, origin=str(path))


def defaults() -> dict[str, Any]:
    """The built-in default of every key, by dotted key."""
    return settings_values(Settings())


def settings_values(settings: Settings) -> dict[str, Any]:
    """Settings flattened to dotted keys, in KEYS order (for display and comparison)."""
    out: dict[str, Any] = {}
    for key in KEYS:
        if key == "sampling.seed":
            out[key] = settings.seed
        elif key == "sampling.stop":
            out[key] = settings.stop
        elif key.startswith("sampling."):
            out[key] = getattr(settings.sampling, key.split(".", 1)[1])
        else:
            out[key] = getattr(settings, key)
    return out


def _build(values: Mapping[str, Any]) -> Settings:
    top = {k: v for k, v in values.items() if "." not in k}
    extra = ("sampling.seed", "sampling.stop")  # request fields, not SamplingParams knobs
    sampling = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("sampling.") and k not in extra}
    return Settings(
        **top, sampling=SamplingParams(**sampling), seed=values["sampling.seed"], stop=values["sampling.stop"]
    )


def resolve_settings(
    args: argparse.Namespace | None = None, config_path: Path | str | None = None
) -> tuple[Settings, Sources]:
    """Effective settings and the source of each: flags > config file > built-in defaults.

    The config file is `config_path`, else `args.config` (--config), else the user config path;
    only the user config path may be missing (an explicitly named file must exist).
    """
    explicit = config_path or getattr(args, "config", None)
    path = Path(explicit) if explicit else paths.config_path()
    values, sources = defaults(), {key: DEFAULT_SOURCE for key in KEYS}
    for key, value in read_config_file(path, missing_ok=not explicit).items():
        if key in PATH_KEYS and value is not None:
            # A relative path in a config file means "next to this file", whatever the cwd is.
            value = str(path.parent / Path(value).expanduser())
        values[key], sources[key] = value, str(path)
    for key in KEYS:
        attr = key.rsplit(".", 1)[-1]
        given = getattr(args, attr, None) if args is not None else None
        if given is not None:
            values[key] = check_value(key, given, CLI_SOURCE, shown_key=flag_name(key))
            sources[key] = CLI_SOURCE
    return _build(values), sources
