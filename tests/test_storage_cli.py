"""`babygpt-tui paths | config show|init | sessions list|export|delete`, through cli.main."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from babygpt_tui import paths
from babygpt_tui.cli import main
from babygpt_tui.config_example import EXAMPLE_CONFIG
from babygpt_tui.session import ModelRef, Session, Turn, loads_session
from babygpt_tui.session_store import SessionStore


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_sessions() -> SessionStore:
    store = SessionStore()
    model = ModelRef("songci-small.safetensors", "abcdef0123456789")
    store.save(
        Session(
            name="宋词 drafts",
            turns=[Turn(prompt="明月", reply="几时有", stop_reason="length", seed=7, model=model, tokens=3)] * 2,
        )
    )
    store.save(Session(name="empty"))
    return store


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_paths_prints_config_sessions_exports_and_state_locations(capsys) -> None:
    code, out, err = run(capsys, "paths")
    assert code == 0 and err == ""
    assert str(paths.config_path()) in out and str(paths.sessions_dir()) in out
    assert f"exports   {paths.exports_dir()}" in out and str(paths.state_path()) in out
    assert paths.exports_dir() == paths.data_dir() / "exports"  # where the TUI's exports go
    assert "not created yet" in out and "BABYGPT_TUI_HOME=" in out


def test_config_show_defaults_then_file_then_flags(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "config", "show")
    assert code == 0 and "not found: built-in defaults apply" in out
    assert re.search(r"(?m)^sampling\.temperature\s+0\.8\s+default$", out)
    assert re.search(r"(?m)^sampling\.seed\s+random\s+default$", out)
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text('device = "cpu"\n[sampling]\ntop_k = 5\n')
    code, out, _ = run(capsys, "--model", "x.safetensors", "config", "show")
    assert re.search(r"(?m)^sampling\.top_k\s+5\s+config file$", out)
    assert re.search(r"(?m)^device\s+cpu\s+config file$", out)
    assert re.search(r"(?m)^model\s+x\.safetensors\s+command line$", out)
    assert re.search(r"(?m)^dtype\s+auto\s+default$", out)


def test_config_show_with_a_bad_file_exits_2_with_one_line(capsys) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[sampling]\ntop_p = 7\n")
    code, out, err = run(capsys, "config", "show")
    assert code == 2 and out == ""
    assert err == f"babygpt-tui: error: {path}: sampling.top_p = 7 is not allowed; use above 0 and at most 1\n"


def test_config_show_with_a_bad_flag_exits_2(capsys) -> None:
    code, _, err = run(capsys, "--threads", "-1", "config", "show")
    assert code == 2 and "--threads = -1" in err and err.count("\n") == 1


def test_config_init_writes_once_and_never_overwrites(capsys) -> None:
    code, out, _ = run(capsys, "config", "init")
    assert code == 0 and str(paths.config_path()) in out
    assert paths.config_path().read_text(encoding="utf-8") == EXAMPLE_CONFIG
    paths.config_path().write_text("theme = 'nord'\n")
    code, out, err = run(capsys, "config", "init")
    assert code == 2 and "already exists; not overwriting" in err
    assert paths.config_path().read_text() == "theme = 'nord'\n"


def test_config_flag_points_init_and_show_at_another_file(capsys, tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    assert run(capsys, "--config", str(target), "config", "init")[0] == 0
    assert target.read_text(encoding="utf-8") == EXAMPLE_CONFIG and not paths.config_path().exists()
    code, out, _ = run(capsys, "--config", str(target), "config", "show")
    assert code == 0 and f"config file: {target}\n" in out
    code, _, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "config", "show")
    assert code == 2 and "no such config file" in err


def test_sessions_list_empty(capsys) -> None:
    code, out, _ = run(capsys, "sessions", "list")
    assert code == 0 and "no sessions yet" in out


def test_sessions_list_is_aligned_and_shows_unreadable_files(capsys) -> None:
    store = make_sessions()
    (store.directory / "broken.json").write_text("{")
    code, out, _ = run(capsys, "sessions", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "MODEL", "TURNS", "LAST", "USED"]
    row = next(line for line in lines if line.startswith("宋词 drafts"))
    assert "songci-small.safetensors@abcdef012345" in row and " 2 " in row
    # Columns line up by display width: "宋词" is 4 cells wide, so MODEL starts at the same cell.
    from rich.cells import cell_len

    assert cell_len(row[: row.index("songci")]) == lines[0].index("MODEL")
    assert re.search(r"(?m)^broken\.json\s+unreadable: not valid JSON", out)
    assert "3 in " in lines[-1] and "1 unreadable (left untouched)" in lines[-1]


def test_sessions_export_markdown_to_stdout(capsys) -> None:
    make_sessions()
    code, out, err = run(capsys, "sessions", "export", "宋词 drafts")
    assert code == 0 and err == ""
    assert out.startswith("# 宋词 drafts\n") and "```text\n几时有\n```" in out and "| 7 |" in out


def test_sessions_export_json_to_a_file(capsys, tmp_path: Path) -> None:
    store = make_sessions()
    target = tmp_path / "out" / "drafts.json"
    code, out, err = run(capsys, "sessions", "export", "宋词 drafts", "--format", "json", "-o", str(target))
    assert code == 0 and out == "" and str(target) in err
    assert loads_session(target.read_bytes()) == store.load("宋词 drafts")
    assert json.loads(target.read_text())["name"] == "宋词 drafts"


def test_sessions_export_missing_or_unreadable_exits_2(capsys) -> None:
    store = make_sessions()
    (store.directory / "broken.json").write_text("[]")
    code, _, err = run(capsys, "sessions", "export", "nope")
    assert code == 2 and "no session named 'nope'" in err
    code, _, err = run(capsys, "sessions", "export", "broken")
    assert code == 2 and "not a session file" in err and err.count("\n") == 1


def test_sessions_delete_without_a_terminal_needs_yes(capsys, monkeypatch) -> None:
    store = make_sessions()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, _, err = run(capsys, "sessions", "delete", "empty")
    assert code == 2 and "pass --yes" in err and err.count("\n") == 1
    assert store.exists("empty")
    code, out, _ = run(capsys, "sessions", "delete", "empty", "--yes")
    assert code == 0 and "deleted 'empty'" in out and not store.exists("empty")


@pytest.mark.parametrize(
    "answer,deleted,exit_code",
    [("y\n", True, 0), ("YES\n", True, 0), ("n\n", False, 1), ("\n", False, 1), ("", False, 1)],
)
def test_sessions_delete_asks_on_a_terminal(capsys, monkeypatch, answer: str, deleted: bool, exit_code: int) -> None:
    store = make_sessions()
    monkeypatch.setattr("sys.stdin", FakeTTY(answer))
    code, out, _ = run(capsys, "sessions", "delete", "宋词 drafts")
    assert code == exit_code
    assert "Delete session '宋词 drafts' (2 turns" in out
    assert store.exists("宋词 drafts") is not deleted


def test_sessions_delete_missing_exits_2(capsys) -> None:
    code, _, err = run(capsys, "sessions", "delete", "nope", "--yes")
    assert code == 2 and "no session named 'nope'" in err


@pytest.mark.parametrize(
    "module",
    [
        "babygpt_tui.commands.storage",
        "babygpt_tui.session_store",
        "babygpt_tui.session_export",
        "babygpt_tui.config_write",
    ],
)
def test_storage_modules_import_neither_torch_nor_textual(module: str) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; print('torch' in sys.modules, 'textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_paths_still_works_when_the_sessions_folder_is_broken(capsys) -> None:
    paths.sessions_dir().parent.mkdir(parents=True, exist_ok=True)
    paths.sessions_dir().write_text("a file, not a folder")
    code, out, _ = run(capsys, "paths")
    assert code == 0 and "cannot list the sessions folder" in out
