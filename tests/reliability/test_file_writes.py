"""Writing files and stdout as a hostile or unlucky user would: through symlinks, into devices and
FIFOs, onto a full disk, to a closed stdout. Nothing is replaced through a link, nothing is cut
short without an error, and every failure is one line with a non-zero exit."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from babygpt_tui.atomic import resolve, write_atomic
from babygpt_tui.cli import main
from babygpt_tui.config_write import save_defaults
from babygpt_tui.session import Session, Turn
from babygpt_tui.session_store import SessionStore

CLI = [sys.executable, "-m", "babygpt_tui.cli"]


@pytest.fixture
def poems() -> SessionStore:
    store = SessionStore()
    store.save(Session(name="poems", turns=[Turn(prompt="明月", reply="几时有", stop_reason="length")]))
    return store


@pytest.fixture
def big() -> SessionStore:
    """A session whose export (~200 KB) is larger than the small disk."""
    store = SessionStore()
    turns = [Turn(prompt="p" * 1000, reply="r" * 1000, stop_reason="length") for _ in range(100)]
    store.save(Session(name="big", turns=turns))
    return store


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([*CLI, *args], stderr=subprocess.PIPE, timeout=120, check=False, **kwargs)  # type: ignore[call-overload]


def one_error_line(stderr: bytes) -> str:
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("babygpt-tui: error: "), stderr.decode()
    return lines[0]


# ----- links, devices, FIFOs, descriptors ------------------------------------------------------


def test_export_to_a_symlink_writes_its_target_and_keeps_the_link(poems: SessionStore, tmp_path: Path) -> None:
    target = tmp_path / "notes" / "poems.md"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o644)
    link = tmp_path / "link.md"
    link.symlink_to("notes/poems.md")  # relative, as `ln -s` usually makes them
    assert main(["sessions", "export", "poems", "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == "notes/poems.md"
    assert target.read_text().startswith("# poems")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not the 0600 of a private temp file
    assert sorted(p.name for p in target.parent.iterdir()) == ["poems.md"]  # no temp file left


def test_save_as_defaults_writes_through_a_symlinked_config(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "config.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text('# mine, from my dotfiles repository\ntheme = "gruvbox"\n')
    dotfiles.chmod(0o644)
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir()
    config.symlink_to(dotfiles)
    save_defaults(theme="nord", path=config)
    assert config.is_symlink() and config.resolve() == dotfiles.resolve()
    text = dotfiles.read_text()
    assert 'theme = "nord"' in text and "# mine, from my dotfiles repository" in text
    assert stat.S_IMODE(dotfiles.stat().st_mode) == 0o644


def test_new_exports_get_the_usual_mode_and_new_session_files_stay_private(poems: SessionStore, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "new.md"
        assert main(["sessions", "export", "poems", "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE((poems.directory / "poems.json").stat().st_mode) == 0o600


def test_an_existing_session_file_keeps_its_mode(poems: SessionStore) -> None:
    path = poems.directory / "poems.json"
    path.chmod(0o640)
    session = poems.load("poems")
    session.turns.append(Turn(prompt="again"))
    poems.save(session)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_export_into_a_fifo_writes_into_it_instead_of_replacing_it(poems: SessionStore, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["sessions", "export", "poems", "-o", str(fifo)]) == 0
    reader.join(timeout=60)  # a guard against a hang, not a speed assertion
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"# poems")


def test_a_checkpoint_written_to_a_device_goes_into_the_device(null_device: Path, tiny_model, tiny_tokenizer) -> None:
    """`train --out /dev/null` as root replaced /dev/null with a regular file (here a node of
    the same device in tmp_path, so a regression cannot break the machine's /dev/null)."""
    from babygpt_tui.engine.checkpoint import save_checkpoint

    save_checkpoint(null_device, tiny_model, tiny_tokenizer)
    assert stat.S_ISCHR(os.lstat(null_device).st_mode)
    assert sorted(p.name for p in null_device.parent.iterdir()) == ["null"]


def test_export_to_dev_fd_writes_to_the_descriptor_and_appends(poems: SessionStore, tmp_path: Path) -> None:
    """`-o /dev/stdout >> log` must append to log, as `cat` would: the name is this process's
    descriptor, so the bytes go to it; neither the link nor the file is replaced."""
    log = tmp_path / "log.md"
    log.write_text("first line\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        done = cli("sessions", "export", "poems", "-o", f"/dev/fd/{fd}", pass_fds=(fd,))
    finally:
        os.close(fd)
    assert done.returncode == 0, done.stderr.decode()
    text = log.read_text()
    assert text.startswith("first line\n# poems") and text.count("# poems") == 1


def test_the_names_of_own_descriptors_are_recognised_and_symlinks_resolved(tmp_path: Path) -> None:
    assert resolve("/dev/stdout") == 1 and resolve("/dev/stderr") == 2 and resolve("/dev/fd/7") == 7
    assert resolve(f"/proc/{os.getpid()}/fd/5") == 5 and resolve("/proc/self/fd/0") == 0
    (tmp_path / "out").symlink_to("/dev/stdout")
    assert resolve(tmp_path / "out") == 1
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(OSError, match="symbolic links"):
        write_atomic(tmp_path / "loop", b"x")
    (tmp_path / "dangling").symlink_to("made/later.md")
    (tmp_path / "made").mkdir()
    write_atomic(tmp_path / "dangling", b"x")  # as `echo x > dangling`: the target is created
    assert (tmp_path / "made" / "later.md").read_bytes() == b"x" and (tmp_path / "dangling").is_symlink()


def test_exporting_to_a_directory_is_one_line(poems: SessionStore, tmp_path: Path, capsys) -> None:
    assert main(["sessions", "export", "poems", "-o", str(tmp_path)]) == 2
    assert "Is a directory" in one_error_line(capsys.readouterr().err.encode())


# ----- full disks and closed stdout ------------------------------------------------------------


def test_export_to_stdout_on_a_full_disk_fails_and_says_so(big: SessionStore, small_disk: Path) -> None:
    """Python's stdout stored 64 KiB of the 200 KB and exited 0: the short write was ignored."""
    with open(small_disk / "out.md", "wb") as out:
        done = cli("sessions", "export", "big", stdout=out)
    assert done.returncode == 2
    assert "cannot write to standard output: the disk is full" in one_error_line(done.stderr)


def test_export_to_a_file_on_a_full_disk_keeps_the_old_file(big: SessionStore, small_disk: Path, capsys) -> None:
    old = small_disk / "out.md"
    old.write_text("the previous export\n")
    assert main(["sessions", "export", "big", "-o", str(old)]) == 2
    assert "the disk is full" in one_error_line(capsys.readouterr().err.encode())
    assert old.read_text() == "the previous export\n"
    assert [p.name for p in small_disk.iterdir()] == ["out.md"]  # the temp file is gone


COMMANDS = [("config", "show"), ("paths",), ("sessions", "list"), ("sessions", "export", "poems")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("stdout", ["closed", "/dev/full"])
def test_output_errors_end_in_one_line_and_a_non_zero_exit(poems: SessionStore, command, stdout: str) -> None:
    if stdout == "closed":  # `>&-`
        done = cli(*command, stdout=None, preexec_fn=lambda: os.close(1))
        reason = "it is closed"
    else:
        with open(stdout, "wb") as full:
            done = cli(*command, stdout=full)
        reason = "the disk is full"
    assert done.returncode == 2
    assert f"cannot write to standard output: {reason}" in one_error_line(done.stderr)


@pytest.mark.parametrize("stdout", [None, "/dev/full"])
def test_generate_to_a_closed_or_full_stdout_is_one_line(
    tiny_checkpoint: Path, monkeypatch, capsys, stdout: str | None
) -> None:
    """`generate >&-` raised AttributeError on `isatty`; `> /dev/full` an OSError traceback."""
    monkeypatch.setattr(sys, "stdout", None if stdout is None else open(stdout, "w"))  # noqa: SIM115
    code = main(["generate", "--model", str(tiny_checkpoint), "--max-new-tokens", "5", "--seed", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert ("it is closed" if stdout is None else "the disk is full") in err and "Traceback" not in err


def test_a_reader_that_goes_away_is_not_an_error(big: SessionStore) -> None:
    proc = subprocess.Popen([*CLI, "sessions", "export", "big"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"# big\n\n100"  # then `head` exits
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and err == b""


def test_bench_reports_are_written_like_every_other_file(tmp_path: Path, small_disk: Path) -> None:
    """`bench --json PATH` / `--markdown PATH` / `bench train --json PATH`: through a symlink to
    its target, and a full disk is one line naming the file, nothing half-written left."""
    from babygpt_tui.bench.report import write_report
    from babygpt_tui.errors import UserError

    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    write_report(str(link), '{"ok": true}\n')
    assert link.is_symlink() and target.read_text() == '{"ok": true}\n'
    full = small_disk / "bench.json"
    with pytest.raises(UserError, match=r"cannot write .*bench\.json: the disk is full"):
        write_report(str(full), "x" * 200_000)
    assert list(small_disk.iterdir()) == []  # no half-written report, no temp file
