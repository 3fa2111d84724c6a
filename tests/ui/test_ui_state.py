"""The theme and the heat-map (on/off, colours/marks) come back at the next launch, from
state.json in the data folder (not config.toml); a damaged, huge or odd state file costs the
memory, never the launch; the file is written through links, not replacing them."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui import paths
from babygpt_tui.ui.ui_state import MAX_BYTES, StateKeeper, UiState, read_state
from babygpt_tui.ui.widgets.heatmap import HeatLegend
from tests.plugins.pilot import ready, wait_until


async def test_theme_and_heatmap_are_remembered_between_launches(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        assert (app.theme, app.heatmap, app.heat_encoding) == ("textual-dark", False, "colour")
        app.theme = "nord"
        await pilot.press("ctrl+t", "ctrl+g")
        await pilot.pause()
    saved = json.loads(paths.state_path().read_text(encoding="utf-8"))
    assert saved["theme"] == "nord" and saved["heatmap"] is True and saved["heat_encoding"] == "marks"
    assert not paths.config_path().exists()  # config.toml is the user's, untouched

    again = make_app()
    async with again.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: again.theme == "nord")
        assert again.heatmap and again.heat_encoding == "marks"
        assert again.query_one(HeatLegend).display  # the legend shows: the heat-map is really on
        await pilot.press("ctrl+t")
        await pilot.pause()
    assert json.loads(paths.state_path().read_text(encoding="utf-8"))["heatmap"] is False


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"schema_version": 1, "heatmap": "yes"}', b"\xff\xfe", b"[]", b" " * (MAX_BYTES + 10)],
    ids=["garbled", "wrong-type", "not-utf8", "not-an-object", "huge"],
)
async def test_a_damaged_state_file_gives_one_line_and_the_defaults(make_app, content: bytes) -> None:
    path = paths.state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    app = make_app()
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: any("state.json" in n.message for n in app._notifications))
        note = next(n.message for n in app._notifications if "state.json" in n.message)
        assert "\n" not in note and "defaults" in note
        assert (app.theme, app.heatmap) == ("textual-dark", False)
        await pilot.press("ctrl+t")  # the next change writes a good file again
        await pilot.pause()
    assert read_state(path) == (UiState("textual-dark", True, "colour"), "")


def test_the_state_file_is_written_through_a_symlink_and_unchanged_state_is_not_rewritten(tmp_path) -> None:
    real = tmp_path / "dotfiles" / "state.json"
    real.parent.mkdir()
    real.write_text("{}", encoding="utf-8")
    link = tmp_path / "state.json"
    link.symlink_to(real)
    keeper = StateKeeper(link)
    assert keeper.load()[0] is None  # "{}" has no schema_version: damaged, said, not fatal
    assert keeper.save(UiState("nord", True)) == ""
    assert link.is_symlink() and read_state(real)[0] == UiState("nord", True)
    mtime = os.stat(real).st_mtime_ns
    assert keeper.save(UiState("nord", True)) == "" and os.stat(real).st_mtime_ns == mtime


def test_a_state_file_that_cannot_be_written_is_said_once(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    keeper = StateKeeper(blocker / "state.json")
    problem = keeper.save(UiState("nord"))
    assert "cannot remember" in problem and "state.json" in problem
    assert keeper.save(UiState("gruvbox")) == ""  # once is enough


def test_a_fifo_is_not_read(tmp_path) -> None:
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    state, problem = read_state(fifo)  # returns at once instead of waiting for a writer
    assert state is None and "not a regular file" in problem


# too_slow: the first draw can take seconds on a loaded 2-core machine; the strategies are small
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_state_or_a_one_line_problem(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("state") / "state.json"
    path.write_bytes(data)
    state, problem = read_state(path)
    assert (state is None) == bool(problem) and "\n" not in problem


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["schema_version", "theme", "heatmap", "heat_encoding", "other"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.sampled_from(["colour", "marks"])),
    )
)
def test_structured_mutations_load_or_are_refused_in_words(data: dict) -> None:
    try:
        state = UiState.from_json(data)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert UiState.from_json(json.loads(state.to_json())) == state
