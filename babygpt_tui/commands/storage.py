"""`babygpt-tui paths`, `config show|init` and `sessions list|export|delete`: storage from a shell.

Output is aligned plain text (rich adds colour on a terminal only); user mistakes raise
ConfigError / SessionError, which `cli.main` prints as one line and turns into exit code 2.
Every string that came from a file (session names, config values, paths) is printed through
`escape_controls`. No torch, no textual: these commands answer instantly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from .. import paths
from ..atomic import write_atomic
from ..config import CLI_SOURCE, DEFAULT_SOURCE, resolve_settings, settings_values
from ..config_write import init_config
from ..escape import escape_controls
from ..output import why
from ..session import SessionError
from ..session_export import export_session
from ..session_store import SessionInfo, SessionStore

NONE_SHOWN = {
    "model": "bundled model",
    "vocab_from": "none",
    "context_keep": "auto",
    "one_poem": "auto",
    "sampling.seed": "random",
}


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    if args.command == "paths":
        return _paths(args, console)
    if args.command == "config":
        return _config_show(args, console) if args.config_command == "show" else _config_init(args, console)
    action = {"list": _sessions_list, "export": _sessions_export, "delete": _sessions_delete}
    return action[args.sessions_command](args, console)


def _text(text: str, style: str = "") -> Text:
    """A line to print: control characters from files shown as escapes, never sent raw."""
    return Text(escape_controls(text), style=style)


def _print_rows(console: Console, rows: list[tuple[Any, ...]], styles: tuple[str, ...] = ()) -> None:
    """Columns padded by display width, so CJK session names still line up."""
    cells = [[escape_controls(str(cell)) for cell in row] for row in rows]
    widths = [max(cell_len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for n, row in enumerate(cells):
        line = Text()
        for i, text in enumerate(row):
            style = "bold" if n == 0 else (styles[i] if i < len(styles) else "")
            line.append(text, style=style)
            if i < len(row) - 1:
                line.append(" " * (widths[i] - cell_len(text) + 2))
        line.rstrip()
        console.print(line)


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config) if getattr(args, "config", None) else paths.config_path()


def _paths(args: argparse.Namespace, console: Console) -> int:
    config, sessions = _config_path(args), paths.sessions_dir()
    config_note = "exists" if config.exists() else "not created yet: `babygpt-tui config init` writes one"
    try:  # `paths` is what people run when something is wrong: it must not fail itself
        count = len(SessionStore(sessions).list())
        sessions_note = f"({count} session{'s' if count != 1 else ''})"
    except SessionError as e:
        sessions_note = f"({e})"
    exports, state = paths.exports_dir(), paths.state_path()
    rows = [
        ("WHAT", "PATH", ""),
        ("config", config, f"({config_note})"),
        ("sessions", sessions, sessions_note),
        ("exports", exports, _note(exports, "sessions exported from the TUI, Markdown or JSON")),
        ("state", state, _note(state, "theme and heat-map, remembered between launches")),
    ]
    _print_rows(console, rows, ("", "", "dim"))
    home = paths.home_override()
    if home is not None:
        console.print(_text(f"{paths.HOME_ENV}={home} relocates them all", style="dim"))
    return 0


def _note(path: Path, what: str) -> str:
    return f"({what})" if path.exists() else f"(not created yet: {what})"


def _show_value(key: str, value: Any) -> str:
    if value is None:
        return NONE_SHOWN.get(key, "none")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):  # sampling.stop, shown as the TOML array it is written as
        return json.dumps(list(value), ensure_ascii=False)
    return str(value)


def _config_show(args: argparse.Namespace, console: Console) -> int:
    settings, sources = resolve_settings(args)
    path = _config_path(args)
    state = "" if path.exists() else " (not found: built-in defaults apply)"
    console.print(_text(f"config file: {path}{state}"))
    rows: list[tuple[Any, ...]] = [("KEY", "VALUE", "SOURCE")]
    for key, value in settings_values(settings).items():
        source = sources[key]
        rows.append((key, _show_value(key, value), "config file" if source == str(path) else source))
    _print_rows(console, rows, ("", "", "dim"))
    if any(s == CLI_SOURCE for s in sources.values()):
        console.print(Text("command-line flags override the config file, which overrides the defaults", style="dim"))
    elif all(s == DEFAULT_SOURCE for s in sources.values()):
        console.print(Text("every value is a built-in default", style="dim"))
    return 0


def _config_init(args: argparse.Namespace, console: Console) -> int:
    path = init_config(_config_path(args))
    console.print(_text(f"wrote {path}; every key is documented there (commented out = the default)"))
    return 0


def _last_used(info: SessionInfo) -> str:
    return info.last_used.astimezone().strftime("%Y-%m-%d %H:%M")


def _sessions_list(args: argparse.Namespace, console: Console) -> int:
    store = SessionStore()
    infos = store.list()
    if not infos:
        console.print(_text(f"no sessions yet in {store.directory}; the TUI saves one after your first reply"))
        return 0
    rows: list[tuple[Any, ...]] = [("NAME", "MODEL", "TURNS", "LAST USED")]
    for info in infos:
        if info.readable:
            rows.append((info.name, info.model or "—", info.turns, _last_used(info)))
        else:
            reason = info.error.removeprefix(f"{info.path}: ")
            rows.append((info.name, f"unreadable: {reason}", "", _last_used(info)))
    _print_rows(console, rows)
    unreadable = sum(not i.readable for i in infos)
    note = f"; {unreadable} unreadable (left untouched)" if unreadable else ""
    console.print(_text(f"{len(infos)} in {store.directory}{note}", style="dim"))
    return 0


def _sessions_export(args: argparse.Namespace, console: Console) -> int:
    session = SessionStore().load(args.name)
    text = export_session(session, args.format)  # control characters are escaped by the export
    if not args.output:
        sys.stdout.write(text)  # checked by cli.main: a full disk is an error, not a short file
        sys.stdout.flush()
        return 0
    out = Path(args.output)
    try:
        write_atomic(out, text.encode("utf-8"))
    except OSError as e:
        raise SessionError(f"cannot write {out}: {why(e)}") from None
    turns = len(session.turns)
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        _text(f"wrote {session.name!r} ({turns} turn{'s' if turns != 1 else ''}) to {out}")
    )
    return 0


def _sessions_delete(args: argparse.Namespace, console: Console) -> int:
    store = SessionStore()
    info = store.find(args.name)
    if info is None:
        raise SessionError(f"no session named {args.name!r} in {store.directory} (see `babygpt-tui sessions list`)")
    what = f"{info.turns} turns, {info.path}" if info.readable else f"unreadable file {info.path}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise SessionError(f"not deleting {args.name!r} without confirmation: pass --yes (no terminal to ask on)")
        try:
            answer = input(escape_controls(f"Delete session {args.name!r} ({what})? [y/N] "))
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            console.print(_text("not deleted"))
            return 1
    path = store.delete(args.name)
    console.print(_text(f"deleted {args.name!r} ({path})"))
    return 0
