"""Terminal escape injection: text from a file (a session's name, prompts, model names, a config
value, a vocabulary) reaches the terminal with its control characters shown as escapes, never
raw; and a session file's name obeys the rules of a name the user types."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from babygpt_tui import paths
from babygpt_tui.cli import main
from babygpt_tui.escape import CONTROL_RE, MULTILINE, escape_controls, json_dumps_safe
from babygpt_tui.session import ModelRef, Session, SessionError, Turn, loads_session
from babygpt_tui.session_store import SessionStore

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
HOSTILE = f"evil{CLEAR}{TITLE}\x9b31m\u202eeman"  # CSI, OSC title, C1 CSI, a right-to-left override


def raw_controls(text: str, keep: str = "\n") -> list[str]:
    return [ch for ch in CONTROL_RE.findall(text) if ch not in keep]


def write_file(name: str, document: object) -> Path:
    directory = paths.sessions_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_sessions_list_never_prints_a_hostile_name_raw(capsys) -> None:
    """The name is refused as a name (as it would be if typed); the file is listed as unreadable
    with the reason, and its file name, hostile too, is printed escaped."""
    path = write_file("evil.json", {"schema_version": 1, "name": HOSTILE, "turns": []})
    write_file(f"{CLEAR}x.json", {"schema_version": 1, "name": 5})
    before = path.read_bytes()
    assert main(["sessions", "list"]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == []
    assert "\\x1b[2Jx.json" in out and "unreadable: name: a session name cannot contain control characters" in out
    assert path.read_bytes() == before  # listed, never rewritten


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "x" * 201, HOSTILE])
def test_a_name_from_a_file_obeys_the_rules_of_a_typed_name(name: str, capsys) -> None:
    write_file("bad.json", {"schema_version": 1, "name": name, "turns": [{"prompt": "p"}]})
    store = SessionStore()
    [info] = store.list()
    assert not info.readable and ": name: a session name" in info.error
    with pytest.raises(SessionError, match="name: a session name"):
        store.load_path(info.path)
    assert main(["sessions", "export", "bad.json"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and raw_controls(err) == []
    # A new session with the same slug is never written over it.
    assert store.save(Session(name="bad")).name == "bad-2.json"


def hostile_session() -> Session:
    model = ModelRef(f"model{TITLE}.safetensors", "abc")
    turn = Turn(
        prompt=f"a prompt{CLEAR}\nsecond line",
        reply="a reply\x9b2J\u202e",
        stop_reason="error",
        error=f"engine said {CLEAR}",
        model=model,
        started_at=f"2026{TITLE}",
    )
    return Session(name="poems", turns=[turn], model=model)


def test_list_and_export_escape_every_string_from_the_session(capsys) -> None:
    SessionStore().save(hostile_session())
    assert main(["sessions", "list"]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and "model\\x1b]0;pwned\\x07.safetensors" in out
    assert main(["sessions", "export", "poems"]) == 0
    markdown = capsys.readouterr().out
    assert raw_controls(markdown) == []
    assert "a prompt\\x1b[2J\nsecond line" in markdown  # visible, and the poem keeps its line breaks
    assert main(["sessions", "export", "poems", "--format", "json"]) == 0
    exported = capsys.readouterr().out
    assert raw_controls(exported) == []
    again = loads_session(exported)  # still the session file format: the escapes are JSON's own
    assert again.turns[0].reply == hostile_session().turns[0].reply


def test_config_show_and_config_errors_escape_values_from_the_file(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "\\u001b]0;pwned\\u0007m.safetensors"\n')
    assert main(["--config", str(config), "config", "show"]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == [] and "\\x1b]0;pwned\\x07m.safetensors" in out
    config.write_text('theme = "\\u001b[2J"\n')
    assert main(["--config", str(config), "config", "show"]) == 2
    err = capsys.readouterr().err
    assert raw_controls(err) == [] and len(err.splitlines()) == 1 and "theme" in err
    missing = tmp_path / f"{CLEAR}.toml"  # a path is quoted in messages too
    assert main(["--config", str(missing), "config", "show"]) == 2
    assert raw_controls(capsys.readouterr().err) == []


@pytest.fixture
def control_vocab_checkpoint(tmp_path: Path, make_tiny_model) -> Path:
    """A model whose vocabulary is mostly control characters: whatever it samples is hostile."""
    from babygpt_tui.engine.checkpoint import save_checkpoint
    from babygpt_tui.engine.tokenizer import CharTokenizer

    tokenizer = CharTokenizer.from_text(f"{CLEAR}{TITLE}\x9b\u202e\n")
    return save_checkpoint(tmp_path / "hostile.safetensors", make_tiny_model(tokenizer.vocab_size), tokenizer)


def generate(checkpoint: Path, stdout: object, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdout", stdout)
    return main(["generate", "--model", str(checkpoint), "--max-new-tokens", "40", "--seed", "3", "--temperature", "1"])


def read_all(master: int) -> bytes:
    """Everything written to the terminal so far: one read returns one write's worth (the paced
    writer's first write can be a lone newline)."""
    data = b""
    while select.select([master], [], [], 0.2)[0]:
        data += os.read(master, 65536)
    return data


def test_generate_on_a_terminal_escapes_control_characters_from_the_vocabulary(
    control_vocab_checkpoint: Path, monkeypatch
) -> None:
    master, slave = pty.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=False) as terminal:
            assert generate(control_vocab_checkpoint, terminal, monkeypatch) == 0
        shown = read_all(master).decode("utf-8")
    finally:
        os.close(master)
        os.close(slave)
    assert raw_controls(shown, keep="\r\n") == []  # the terminal turns each \n into \r\n
    assert "\\x1b" in shown or "\\x07" in shown or "\\x9b" in shown


def test_generate_to_a_pipe_or_file_writes_the_text_exactly(
    control_vocab_checkpoint: Path, tmp_path, monkeypatch
) -> None:
    with open(tmp_path / "out.txt", "w", encoding="utf-8") as out:
        assert generate(control_vocab_checkpoint, out, monkeypatch) == 0
    text = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert raw_controls(text) != []  # what a script asked for, byte for byte


@given(st.text())
def test_escaped_text_has_no_control_characters_and_plain_text_is_unchanged(text: str) -> None:
    shown = escape_controls(text)
    assert raw_controls(shown, keep="") == []
    assert (shown == text) == (not CONTROL_RE.search(text))
    assert raw_controls(escape_controls(text, keep=MULTILINE), keep=MULTILINE) == []


@given(
    st.recursive(
        st.text() | st.integers() | st.none(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
    )
)
def test_safe_json_is_the_same_value_with_nothing_raw(value: object) -> None:
    text = json_dumps_safe(value)
    assert json.loads(text) == value and raw_controls(text, keep="") == []
