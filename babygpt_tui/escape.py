"""Control characters from files, made visible before they reach a terminal. No torch, no textual.

A session name, a prompt, a model's metadata or vocabulary is text somebody else may have
written. Printed raw, `ESC[2J` clears the screen, `ESC]0;…BEL` sets the window title, other
sequences move the cursor, redefine keys or hide the rest of a line, and the bidirectional
overrides (U+202E…) make text display in another order than it is stored. `escape_controls`
shows each such character as a visible escape (`\\x1b`, `\\u202e`) instead; everything else,
CJK and emoji included, is left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls, DEL, C1 controls (0x9b alone is a CSI on many terminals), the line and paragraph
# separators, the bidirectional marks, embeddings, overrides and isolates, and lone surrogates
# (a JSON file can hold "\\ud800"; no terminal encoding can print it).
_UNSAFE = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
CONTROL_RE = re.compile(f"[\x00-\x1f{_UNSAFE}]")
# What JSON text may still carry raw: json.dumps escapes C0 controls itself (ensure_ascii=False).
_JSON_RAW_RE = re.compile(f"[{_UNSAFE}]")
MULTILINE = "\n\t"  # what `keep` usually is for a prompt or a reply


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every control character written as a visible escape; `keep`: characters to
    leave as they are (`MULTILINE` for text whose lines matter)."""
    if not CONTROL_RE.search(text):
        return text  # the usual case: no copy
    return CONTROL_RE.sub(lambda m: m[0] if m[0] in keep else _visible(m[0]), text)


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ … ␟
    return "␡" if code == 0x7F else "\ufffd"


def visible_controls(text: str, keep: str = MULTILINE) -> str:
    """`text` with each control character replaced by ONE visible character (ESC → ␛, other C0
    controls → their Control Picture, DEL → ␡, anything else → �), for text whose character
    positions matter: the TUI maps a click or a cursor on a reply to the same index."""
    if not CONTROL_RE.search(text):
        return text
    return CONTROL_RE.sub(lambda m: m[0] if m[0] in keep else _picture(m[0]), text)


def escape_json(text: str) -> str:
    """JSON text with the control characters JSON leaves raw (DEL, C1, bidirectional marks)
    written as `\\u` escapes: the same JSON value, safe to print. (json.dumps escapes the C0
    controls itself, with ensure_ascii=False too.)"""
    if not _JSON_RAW_RE.search(text):
        return text
    return _JSON_RAW_RE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def json_dumps_safe(value: Any, **kwargs: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **kwargs)`, safe to print (see `escape_json`)."""
    return escape_json(json.dumps(value, ensure_ascii=False, **kwargs))
