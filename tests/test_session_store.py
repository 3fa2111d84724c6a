"""SessionStore: atomic saves that survive crashes and full disks, safe file names, listing that
never crashes on bad files and never overwrites them, rename / delete / search / unique names."""

from __future__ import annotations

import datetime
import errno
import json
import os
from pathlib import Path

import pytest

from babygpt_tui import paths, session_store
from babygpt_tui.session import SCHEMA_VERSION, ModelRef, Session, SessionError, Turn, dumps_session
from babygpt_tui.session_store import NAME_MAX, SessionStore, check_name, slugify


@pytest.fixture
def store() -> SessionStore:
    return SessionStore()


def saved(store: SessionStore, name: str, turns: int = 1) -> Session:
    session = Session(
        name=name, turns=[Turn(prompt=f"p{i}", reply=f"r{i}", stop_reason="length") for i in range(turns)]
    )
    store.save(session)
    return session


def test_store_lives_in_the_sessions_dir(store: SessionStore) -> None:
    assert store.directory == paths.sessions_dir()
    assert store.list() == []  # no folder yet: an empty list, and nothing created
    assert not store.directory.exists()


def test_save_load_round_trip_and_timestamps(store: SessionStore) -> None:
    session = saved(store, "poems", turns=2)
    assert session.created_at and session.updated_at
    assert store.load("poems") == session
    assert json.loads((store.directory / "poems.json").read_text())["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "name",
    [
        "a/b",
        "../../etc/passwd",
        "..",
        ".",
        ".hidden",
        "宋词·选",
        "con",
        "a\\b:c*?",
        "x" * NAME_MAX,
        "  spaced  ",
        "🎉",
        "NUL",
        "-_-",
    ],
)
def test_any_name_gives_a_plain_file_inside_the_sessions_dir(store: SessionStore, name: str) -> None:
    path = store.save(Session(name=name))
    assert path.parent == store.directory and path.suffix == ".json" and not path.name.startswith(".")
    assert len(path.name.encode("utf-8")) <= 255
    assert store.load(name).name == name


def test_slugs() -> None:
    assert slugify("Poems / Draft 2") == "poems-draft-2"
    assert slugify("") == slugify("..") == slugify("///") == "session"
    assert slugify("宋词 选") == "宋词-选"
    assert slugify("CON") == "session-con"


def test_names_with_the_same_slug_get_different_files(store: SessionStore) -> None:
    a, b, c = store.save(Session(name="A/B")), store.save(Session(name="a-b")), store.save(Session(name="a b"))
    assert len({a, b, c}) == 3
    assert {i.name for i in store.list()} == {"A/B", "a-b", "a b"}
    assert store.save(Session(name="a-b")) == b  # saving again finds the same file


def test_bad_names_are_refused_where_a_user_types_them(store: SessionStore) -> None:
    for bad in ("", "   ", "a\nb", "tab\there", "x" * 201):
        with pytest.raises(SessionError):
            check_name(bad)
    with pytest.raises(SessionError, match="cannot be empty"):
        store.save(Session(name=" "))


# ----- atomic writes -----------------------------------------------------------------------


def test_crash_between_temp_write_and_replace_keeps_the_old_file(store: SessionStore, monkeypatch) -> None:
    session = saved(store, "poems")
    path = store.directory / "poems.json"
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    session.turns.append(Turn(prompt="lost"))
    with pytest.raises(SessionError, match="previous version is unchanged"):
        store.save(session)
    assert path.read_bytes() == before
    assert [p.name for p in store.directory.iterdir()] == ["poems.json"]  # temp file cleaned up


def test_leftover_temp_files_are_not_listed_and_old_ones_are_removed(store: SessionStore) -> None:
    import time

    saved(store, "poems")
    fresh, stale = store.directory / ".poems.json.abc123.tmp", store.directory / ".poems.json.old999.tmp"
    fresh.write_text("{half")
    stale.write_text("{half")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    assert [i.name for i in store.list()] == ["poems"]
    assert fresh.exists()  # might be a save still running in another window
    assert not stale.exists()  # a killed write's leftover


# ----- bad files ---------------------------------------------------------------------------

BAD_FILES = {
    "corrupt.json": b"\x00\x01garbage",
    "truncated.json": None,  # filled in below from a real session
    "notjson.json": b"hello",
    "shape.json": b'{"name": "x", "turns": [{"prompt": 3}]}',
    "list.json": b"[]",
    "future.json": json.dumps({"schema_version": 99, "name": "future"}).encode(),
}


def write_bad_files(store: SessionStore) -> dict[str, bytes]:
    store.directory.mkdir(parents=True, exist_ok=True)
    good = dumps_session(Session(name="truncated", turns=[Turn(prompt="a" * 100)]))
    files = {name: raw if raw is not None else good[: len(good) // 2] for name, raw in BAD_FILES.items()}
    for name, raw in files.items():
        (store.directory / name).write_bytes(raw)
    return files


def test_bad_files_are_listed_as_unreadable_with_the_reason(store: SessionStore) -> None:
    write_bad_files(store)
    saved(store, "good")
    infos = {i.name: i for i in store.list()}
    assert infos["good"].readable and infos["good"].turns == 1
    for name in BAD_FILES:
        assert not infos[name].readable and infos[name].error.startswith(str(store.directory / name))
    assert "newer babygpt-tui" in infos["future.json"].error
    assert "turns[0].prompt: expected a string" in infos["shape.json"].error
    assert "not valid JSON" in infos["truncated.json"].error


def test_bad_files_are_never_overwritten(store: SessionStore) -> None:
    files = write_bad_files(store)
    for name in BAD_FILES:  # a new session whose slug is taken by an unreadable file
        store.save(Session(name=name.removesuffix(".json")))
    store.list()
    for name, raw in files.items():
        assert (store.directory / name).read_bytes() == raw
    assert len(store.list()) == 2 * len(files)


def test_loading_an_unreadable_file_raises_its_reason(store: SessionStore) -> None:
    write_bad_files(store)
    with pytest.raises(SessionError, match="newer babygpt-tui"):
        store.load("future")
    with pytest.raises(SessionError, match="no session named 'nothing'"):
        store.load("nothing")


def test_permission_error_is_listed_not_raised(store: SessionStore, monkeypatch) -> None:
    saved(store, "secret")
    real = session_store.read_capped

    def denied(path: Path, limit: int) -> bytes:  # root reads any file: chmod 000 cannot show this
        if Path(path).name == "secret.json":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path, limit)

    monkeypatch.setattr(session_store, "read_capped", denied)
    store._cache.clear()
    [info] = store.list()
    assert not info.readable and "Permission denied" in info.error


def test_migrated_file_is_listed_and_rewritten_as_current_on_save(store: SessionStore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "old.json").write_text(json.dumps({"name": "old", "turns": [{"prompt": "p", "model": "m@1"}]}))
    [info] = store.list()
    assert info.readable and info.model == "m@1"
    assert json.loads((store.directory / "old.json").read_text()).get("schema_version") is None  # reading is read-only
    store.save(store.load("old"))
    assert json.loads((store.directory / "old.json").read_text())["schema_version"] == SCHEMA_VERSION


# ----- list, search, rename, delete, names -------------------------------------------------


def test_list_is_sorted_by_last_used_with_model_and_turns(store: SessionStore) -> None:
    for i, name in enumerate(["old", "newest", "middle"]):
        s = Session(name=name, turns=[Turn(prompt="p", model=ModelRef("m.safetensors", "abcdef"))] * i)
        store.save(s)
    stamps = {
        "old": "2024-01-01T00:00:00+00:00",
        "newest": "2024-03-01T00:00:00+00:00",
        "middle": "2024-02-01T00:00:00",
    }
    for name, stamp in stamps.items():
        path = store.directory / f"{name}.json"
        data = json.loads(path.read_text())
        data["updated_at"] = stamp
        path.write_text(json.dumps(data))
    infos = store.list()
    assert [i.name for i in infos] == ["newest", "middle", "old"]
    assert infos[0].turns == 1 and infos[0].model == "m.safetensors@abcdef"
    assert infos[1].last_used == datetime.datetime(2024, 2, 1, tzinfo=datetime.UTC)


def test_search_by_name_substring_ignores_case(store: SessionStore) -> None:
    for name in ("Song Ci", "tang poems", "宋词"):
        saved(store, name)
    assert {i.name for i in store.search("SONG")} == {"Song Ci"}
    assert {i.name for i in store.search("词")} == {"宋词"}
    assert len(store.search("")) == 3


def test_rename_moves_the_file_and_keeps_everything_else(store: SessionStore) -> None:
    original = saved(store, "draft", turns=3)
    renamed = store.rename("draft", "宋词 final")
    assert renamed.name == "宋词 final" and renamed.turns == original.turns
    assert renamed.updated_at == original.updated_at  # renaming is not "using"
    assert [p.name for p in store.directory.iterdir()] == ["宋词-final.json"]
    assert store.load("宋词 final") == renamed


def test_rename_changing_only_case_keeps_the_file(store: SessionStore) -> None:
    saved(store, "poems")
    store.rename("poems", "Poems")
    assert [p.name for p in store.directory.iterdir()] == ["poems.json"]
    assert [i.name for i in store.list()] == ["Poems"]


def test_rename_refuses_taken_or_bad_names(store: SessionStore) -> None:
    saved(store, "a"), saved(store, "b")
    with pytest.raises(SessionError, match="already exists"):
        store.rename("a", "b")
    with pytest.raises(SessionError, match="cannot be empty"):
        store.rename("a", "  ")
    with pytest.raises(SessionError, match="no session named"):
        store.rename("zzz", "c")


def test_delete_removes_a_session_or_an_unreadable_file(store: SessionStore) -> None:
    saved(store, "poems")
    write_bad_files(store)
    assert store.delete("poems") == store.directory / "poems.json"
    assert store.delete("notjson.json").name == "notjson.json"
    assert not (store.directory / "notjson.json").exists()
    with pytest.raises(SessionError, match="no session named"):
        store.delete("poems")


def test_unique_names_and_new_sessions(store: SessionStore) -> None:
    assert store.unique_name() == "session"
    saved(store, "session")
    saved(store, "session 2")
    assert store.unique_name() == "session 3"
    fresh = store.new_session("session", seed_mode="fixed", fixed_seed=5, model=ModelRef("m"))
    assert fresh.name == "session 3" and fresh.fixed_seed == 5 and fresh.model == ModelRef("m") and fresh.created_at
    assert not (store.directory / "session-3.json").exists()  # nothing is written until the first save


def test_open_or_create_for_the_session_flag(store: SessionStore) -> None:
    saved(store, "poems", turns=2)
    assert len(store.open_or_create("poems").turns) == 2
    new = store.open_or_create("  brand new ")
    assert new.name == "brand new" and new.turns == [] and not store.exists("brand new")
