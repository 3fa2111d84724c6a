"""Export a session as Markdown (to read or share) or JSON (the session file format itself).

Markdown puts each prompt and reply in a fenced block, because poems depend on their line
breaks, which plain Markdown paragraphs would join; the settings of each reply follow as a
one-row table, enough to replay it (`seed` + sampling settings + model; a knob at its "off"
value says off), then the knobs moved while it was written. Every reply of a turn is listed
(Ctrl+R keeps them), and a continue-mode turn says so. Control characters from
the session (an escape sequence in a name or a prompt) are written as visible escapes, so
neither `cat export.md` nor `sessions export` to a terminal can run them. No torch, no textual.
"""

from __future__ import annotations

import re
from typing import Literal

from . import __version__
from .escape import MULTILINE, escape_controls, escape_json
from .session import Session, Turn, dumps_session

ExportFormat = Literal["md", "json"]
SETTINGS_COLUMNS = (
    "temperature",
    "top-k",
    "top-p",
    "min-p",
    "repetition penalty",
    "max tokens",
    "seed",
    "model",
    "stop reason",
    "tokens",
    "tok/s",
)


def export_session(session: Session, fmt: ExportFormat = "md") -> str:
    """The session as Markdown ("md") or JSON ("json")."""
    if fmt == "md":
        return export_markdown(session)
    if fmt == "json":
        return export_json(session)
    raise ValueError(f"unknown export format {fmt!r} (allowed: md, json)")


def export_json(session: Session) -> str:
    """The same document as the session file (schema_version included), so it can be re-imported."""
    return escape_json(dumps_session(session).decode("utf-8"))


def export_markdown(session: Session) -> str:
    lines = [f"# {_escape(session.name) or '(unnamed session)'}", ""]
    facts = [f"{len(session.turns)} turn{'s' if len(session.turns) != 1 else ''}"]
    if session.created_at:
        facts.append(f"created {session.created_at}")
    if session.updated_at:
        facts.append(f"last used {session.updated_at}")
    facts.append(f"exported from babygpt-tui {__version__}")
    lines += [" · ".join(facts), ""]
    for number, turn in enumerate(session.turns, 1):
        lines += _turn_markdown(number, turn)
    return "\n".join(lines).rstrip("\n") + "\n"


def _turn_markdown(number: int, turn: Turn) -> list[str]:
    continued = turn.context_mode == "continue"
    lines = [f"## Turn {number}" + (" (continue mode)" if continued else ""), ""]
    if turn.started_at:
        lines += [f"_{_escape(turn.started_at)}_", ""]
    if continued:
        lines += ["_Continue mode: the model read the transcript before this prompt too._", ""]
    lines += ["**Prompt**", ""]
    lines += _block(turn.prompt) if turn.prompt else ["_(empty: the model started a new poem)_"]
    lines.append("")
    versions = turn.versions
    for k, version in enumerate(versions, 1):
        if len(versions) == 1:
            title = "**Reply**"
        else:
            title = f"**Reply {k} of {len(versions)}{' (shown)' if version is turn else ''}**"
        lines += _reply_markdown(title, version)
    return lines


def _reply_markdown(title: str, turn: Turn) -> list[str]:
    lines = [title, ""]
    lines += _block(turn.reply) if turn.reply else ["_(no text)_"]
    lines.append("")
    if turn.error:
        lines += [f"> **Error:** {_escape(turn.error)}", ""]
    p = turn.params
    values = (
        _num(p.temperature),
        _off(p.top_k, 0),
        _off(p.top_p, 1.0),
        _off(p.min_p, 0.0),
        _off(p.repetition_penalty, 1.0),
        str(p.max_new_tokens),
        str(turn.seed),
        turn.model.short or "—",
        turn.stop_reason or "—",
        str(turn.tokens),
        f"{turn.decode_tokens_per_s:.1f}",
    )
    lines.append("| " + " | ".join(SETTINGS_COLUMNS) + " |")
    lines.append("|" + "---|" * len(SETTINGS_COLUMNS))
    lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    lines.append("")
    if changes := _knob_changes(turn):
        lines += ["Knobs moved during the reply:", "", *changes, ""]
    return lines


KNOB_NAMES = {
    "temperature": "temperature",
    "top_k": "top-k",
    "top_p": "top-p",
    "min_p": "min-p",
    "repetition_penalty": "repetition penalty",
    "repetition_window": "repetition window",
    "max_new_tokens": "max tokens",
}
OFF = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0}  # the value that turns a knob off


def _knob_changes(turn: Turn) -> list[str]:
    """`- from token 12: temperature 0.8 → 0.3` for every change after the reply's start."""
    out = []
    before = turn.params
    for step, params in turn.params_changes:
        moved = [
            f"{name} {_knob(field, getattr(before, field))} → {_knob(field, getattr(params, field))}"
            for field, name in KNOB_NAMES.items()
            if getattr(before, field) != getattr(params, field)
        ]
        if moved:
            out.append(f"- from token {step + 1}: " + ", ".join(moved))
        before = params
    return out


def _knob(field: str, value: float) -> str:
    return _off(value, OFF[field]) if field in OFF else _num(value)


def _off(value: float, off: float) -> str:
    return "off" if value == off else _num(value)


def _block(text: str) -> list[str]:
    """A fenced block longer than any run of backticks inside, so the text cannot close it early."""
    text = escape_controls(text, keep=MULTILINE)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *text.split("\n"), fence]


def _num(value: float) -> str:
    return f"{value:g}"


def _escape(text: str) -> str:
    """Keep a name or message literal: no headings, emphasis, links or HTML from its characters."""
    text = escape_controls(" ".join(text.split()))  # one line: a newline would end the heading or quote
    return re.sub(r"([\\`*_{}\[\]<>#|!])", r"\\\1", text)


def _cell(text: str) -> str:
    text = escape_controls(text)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
