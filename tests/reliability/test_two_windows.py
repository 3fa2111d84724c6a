"""Two windows on one session, each with its own SessionStore (as two TUIs in two terminals have):
no window's turns vanish, and a session deleted elsewhere is not silently re-created."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from babygpt_tui import paths
from babygpt_tui.cli import main
from babygpt_tui.session import Session, SessionError, Turn
from babygpt_tui.session_store import SessionDeleted, SessionStore, forked_note


def turn(prompt: str) -> Turn:
    return Turn(prompt=prompt, reply=f"reply to {prompt}", stop_reason="length")


@pytest.fixture
def saved() -> Session:
    session = Session(name="poems", turns=[turn("first")])
    SessionStore().save(session)
    return session


def prompts(session: Session) -> list[str]:
    return [t.prompt for t in session.turns]


def test_two_windows_chatting_on_one_session_lose_nothing(saved: Session) -> None:
    a, b = SessionStore(), SessionStore()
    in_a, in_b = a.load("poems"), b.load("poems")
    in_a.turns.append(turn("from A"))
    a.save(in_a)
    in_b.turns.append(turn("from B"))
    b.save(in_b)  # the file changed since B read it: B's chat goes to a new name
    assert in_b.name == "poems 2"
    assert forked_note("poems", in_b.name) == (
        "Session 'poems' was changed in another window since it was opened here; to keep both, "
        "this window's chat is saved as 'poems 2'."
    )
    store = SessionStore()
    assert prompts(store.load("poems")) == ["first", "from A"]
    assert prompts(store.load("poems 2")) == ["first", "from B"]
    # Both go on saving to their own file, with no further forks.
    in_a.turns.append(turn("A again"))
    a.save(in_a)
    in_b.turns.append(turn("B again"))
    b.save(in_b)
    assert prompts(store.load("poems")) == ["first", "from A", "A again"]
    assert prompts(store.load("poems 2")) == ["first", "from B", "B again"]
    assert sorted(i.name for i in store.list()) == ["poems", "poems 2"]


def test_a_window_saving_a_stale_copy_of_its_own_session_is_not_a_conflict(saved: Session) -> None:
    """The TUI saves copies; a second autosave may be queued before the first one's new
    updated_at reaches the open session. The store knows what it wrote itself."""
    store = SessionStore()
    session = store.load("poems")
    stale = replace(session, turns=[*session.turns, turn("one")])
    store.save(replace(session, turns=[*session.turns, turn("one")]))
    stale.turns.append(turn("two"))
    store.save(stale)
    assert stale.name == "poems" and prompts(SessionStore().load("poems")) == ["first", "one", "two"]


def test_a_window_in_another_process_is_detected_too(saved: Session) -> None:
    mine = SessionStore()
    session = mine.load("poems")
    other = (
        "from babygpt_tui.session_store import SessionStore\n"
        "from babygpt_tui.session import Turn\n"
        "s = SessionStore(); x = s.load('poems'); x.turns.append(Turn(prompt='other process')); s.save(x)\n"
    )
    subprocess.run([sys.executable, "-c", other], check=True, timeout=60)
    session.turns.append(turn("mine"))
    mine.save(session)
    assert session.name == "poems 2"
    assert prompts(SessionStore().load("poems")) == ["first", "other process"]


def test_a_new_session_whose_name_was_taken_meanwhile_gets_a_new_name() -> None:
    a, b = SessionStore(), SessionStore()
    first, second = Session(name="draft"), Session(name="draft")  # `--session draft` twice, both new
    a.save(first)
    b.save(second)
    assert (first.name, second.name) == ("draft", "draft 2")


def test_sessions_delete_while_a_window_has_it_open_is_reported_not_undone(saved: Session, capsys) -> None:
    window = SessionStore()
    session = window.load("poems")
    assert main(["sessions", "delete", "poems", "--yes"]) == 0
    session.turns.append(turn("after the delete"))
    with pytest.raises(SessionDeleted, match="'poems' was deleted or renamed outside this window") as e:
        window.save(session)
    assert isinstance(e.value, SessionError)  # the UI's error path shows it as a notification
    assert not (paths.sessions_dir() / "poems.json").exists()  # not re-created behind the user's back
    window.save(session)  # the user was told; saving again (Ctrl+S, or the next reply) keeps the chat
    assert prompts(SessionStore().load("poems")) == ["first", "after the delete"]


def test_renaming_in_another_window_is_reported_like_a_delete(saved: Session) -> None:
    window = SessionStore()
    session = window.load("poems")
    SessionStore().rename("poems", "ci")
    with pytest.raises(SessionDeleted):
        window.save(session)


def test_a_failed_save_does_not_make_the_next_one_a_conflict(saved: Session, small_disk: Path) -> None:
    store = SessionStore(small_disk)
    session = Session(name="poems", turns=[turn("small")])
    store.save(session)
    before = (small_disk / "poems.json").read_bytes()
    session.turns.append(Turn(prompt="x" * 100_000))
    with pytest.raises(SessionError, match="the disk is full"):
        store.save(session)
    assert (small_disk / "poems.json").read_bytes() == before
    assert [p.name for p in small_disk.iterdir()] == ["poems.json"]  # the temp file is removed
    session.turns.pop()
    session.turns.append(turn("fits"))
    store.save(session)  # same file, not "poems 2": the failed save left the revision on disk
    assert session.name == "poems" and prompts(SessionStore(small_disk).load("poems")) == ["small", "fits"]


def test_a_file_from_before_updated_at_is_saved_in_place(tmp_path: Path) -> None:
    directory = paths.sessions_dir()
    directory.mkdir(parents=True)
    (directory / "old.json").write_text(json.dumps({"name": "old", "turns": [{"prompt": "p"}]}))
    store = SessionStore()
    session = store.load("old")
    session.turns.append(turn("new"))
    store.save(session)
    assert session.name == "old" and [p.name for p in directory.iterdir()] == ["old.json"]
