"""Fuzzing the two parsers of files a user (or an attacker) hands us, from the file on disk:
session files through SessionStore, config.toml through read_config_file and `config show`.
Random bytes and structured mutations of a valid file (hostile strings, huge numbers, deep
nesting, cut-offs) end in a valid load or the parser's own one-line error — never another
exception — and nothing printed carries a raw control character. (The parsers' own fuzz tests
in tests/test_session.py and tests/test_config.py work on text in memory; these go through the
file readers and the CLI as well.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui import paths
from babygpt_tui.cli import main
from babygpt_tui.config import ConfigError, read_config_file
from babygpt_tui.config_example import EXAMPLE_CONFIG
from babygpt_tui.escape import CONTROL_RE
from babygpt_tui.session import Session, SessionError, Turn, dumps_session
from babygpt_tui.session_store import SessionStore, check_name

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

HOSTILE_STRINGS = st.sampled_from(
    [
        "\x1b[2J",
        "\x1b]0;title\x07",
        "\x9b31m",
        "\u202e",
        "",
        "   ",
        "\n",
        "x" * 300,
        "\x00",
        "\ud800",  # a lone surrogate: valid JSON text (\\ud800), no UTF-8 form
        "名\u0301",
    ]
)
HOSTILE_NUMBERS = st.sampled_from([10**400, -1, 2**64, 1e308, -0.0, True, None])
HOSTILE_TOKENS = st.sampled_from(
    [
        b"\x1b[2J",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
        b"\x00",
        b"[" * 5000,
        b"{" * 5000,
        b'"\\ud800"',
        b"1e999",
        b"NaN",
        b"9" * 5000,
        b"a." * 200 + b"b = 1\n",
        b"[[sampling]]\n",
        b'theme = "\\u001b[2J"\n',
        b"\n[sampling]\ntemperature = inf\n",
        b'"\\u001b]0;x\\u0007" = 1\n',
    ]
)


def printed(text: str) -> list[str]:
    return [ch for ch in CONTROL_RE.findall(text) if ch != "\n"]


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    """Cut, flip, or splice hostile tokens into `raw`, a few times."""
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        at = data.draw(st.integers(0, len(out)), label="at")
        kind = data.draw(st.sampled_from(["cut", "flip", "insert", "delete"]), label="kind")
        if kind == "cut":
            del out[at:]
        elif kind == "flip" and at < len(out):
            out[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "insert":
            out[at:at] = data.draw(HOSTILE_TOKENS, label="token")
        elif kind == "delete":
            del out[at : at + data.draw(st.integers(1, 40))]
    return bytes(out)


# ----- sessions ------------------------------------------------------------------------------


def valid_session_bytes() -> bytes:
    turn = Turn(prompt="明月几时有", reply="把酒问青天。\n", stop_reason="length", seed=7, tokens=6)
    return dumps_session(Session(name="poems", turns=[turn, Turn(prompt="")], created_at="2025-01-01T00:00:00Z"))


def check_session_file(raw: bytes, capsys) -> None:
    """Load it from disk, list it, print the list: clean either way."""
    directory = paths.sessions_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fuzz.json"
    path.write_bytes(raw)
    store = SessionStore()
    try:
        session = store.load_path(path)
    except SessionError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
    else:
        assert check_name(session.name)  # what loads has a name a user could have typed
        written = store.save(session)  # and saves again, in place, to what it reads back
        assert written == path and dumps_session(store.load_path(written)) == dumps_session(session)
    [info] = [i for i in store.list() if i.path == path]
    assert info.readable or info.error
    capsys.readouterr()
    assert main(["sessions", "list"]) == 0
    assert printed(capsys.readouterr().out) == []
    for p in directory.iterdir():
        p.unlink()


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes_as_a_session_file(raw: bytes, capsys) -> None:
    check_session_file(raw, capsys)


@FUZZ
@given(data=st.data())
def test_mutated_session_files(data: st.DataObject, capsys) -> None:
    check_session_file(mutate(valid_session_bytes(), data), capsys)


def _leaves(obj: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _leaves(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _leaves(v, (*prefix, i))
    return out


@FUZZ
@given(data=st.data())
def test_session_documents_with_hostile_values(data: st.DataObject, capsys) -> None:
    doc = json.loads(valid_session_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(_leaves(doc)[1:]))
        target = doc
        for step in where[:-1]:
            target = target[step]
        target[where[-1]] = data.draw(HOSTILE_STRINGS | HOSTILE_NUMBERS)
    check_session_file(json.dumps(doc).encode(), capsys)


# ----- config.toml ---------------------------------------------------------------------------


def check_config_file(raw: bytes, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"fuzz-{random.randrange(10**9)}.toml"
    path.write_bytes(raw)
    try:
        read_config_file(path)
    except ConfigError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
    capsys.readouterr()
    code = main(["--config", str(path), "config", "show"])
    out, err = capsys.readouterr()
    assert code in (0, 2) and printed(out) == [] and printed(err) == []
    assert code == 0 or len(err.splitlines()) == 1
    path.unlink()


HOSTILE_TOML_VALUES = st.sampled_from(
    [
        "[" * 3000 + "]" * 3000,  # past the recursion limit: tomllib raised RecursionError
        "{ a = " * 2000 + "1" + " }" * 2000,
        '"\\u001b[2J"',
        '"\\u001b]0;title\\u0007"',
        '"\\ud7ff\\u202e"',
        "inf",
        "-nan",
        "1e999",
        "9" * 5000,
        "true",
        '[1, "a"]',
        "{}",
        "1979-05-27T07:32:00Z",
        '"' + "x" * 100_000 + '"',
    ]
)


@FUZZ
@given(data=st.data())
def test_config_files_with_hostile_values_and_keys(data: st.DataObject, tmp_path: Path, capsys) -> None:
    lines = [line.removeprefix("# ") if " = " in line else line for line in EXAMPLE_CONFIG.splitlines()]
    assignments = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.sampled_from(assignments))
        key = lines[i].split(" = ", 1)[0]
        if data.draw(st.booleans()):
            key = data.draw(st.sampled_from([key, "a." * 100 + "b", '"\\u001b[2J"', "sampling.top_k", "[x]"]))
        lines[i] = f"{key} = {data.draw(HOSTILE_TOML_VALUES)}"
    check_config_file("\n".join(lines).encode(), tmp_path, capsys)


def test_deep_nesting_and_long_dotted_keys_are_config_errors(tmp_path: Path) -> None:
    """tomllib's time and memory grow with the square of a dotted key's length (10,000 parts:
    400 MB), and deep arrays raise RecursionError: both are refused as one line."""
    path = tmp_path / "config.toml"
    for text, reason in [
        ("a = " + "[" * 3000, "arrays or tables nested too deeply"),
        ("a = " + "{b = " * 3000, "arrays or tables nested too deeply"),
        ("a." * 100 + "b = 1", "a dotted key with 64 or more parts"),
        ("[" + "a." * 100 + "b]", "a dotted key with 64 or more parts"),
        ("threads = " + "9" * 5000, "a number with thousands of digits"),  # tomllib raised ValueError
    ]:
        path.write_text(text)
        try:
            read_config_file(path)
        except ConfigError as e:
            assert str(e) == f"{path}: not a config file ({reason})"
        else:
            raise AssertionError(f"accepted {text[:20]!r}")


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes_as_a_config_file(raw: bytes, tmp_path: Path, capsys) -> None:
    check_config_file(raw, tmp_path, capsys)


@FUZZ
@given(data=st.data())
def test_mutated_config_files(data: st.DataObject, tmp_path: Path, capsys) -> None:
    # The example with its defaults switched on, so there are values to damage.
    text = "\n".join(line.removeprefix("# ") if " = " in line else line for line in EXAMPLE_CONFIG.splitlines())
    check_config_file(mutate(text.encode(), data), tmp_path, capsys)
