"""The loss curve and the training display: metrics.jsonl parsing, the terminal chart at common
sizes, plain lines for logs, `train --plot`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from babygpt_tui.cli import main
from babygpt_tui.commands.loss_plot import LossCurve, MetricsError, read_metrics, terminal_chart
from babygpt_tui.commands.train_display import LiveView, PlainLines, visible
from babygpt_tui.engine.train import Progress


def progress(step: int, val: float | None = None, sample: str | None = None) -> Progress:
    loss = 5.0 * math.exp(-step / 200) + 2
    return Progress(step, 500, loss, val, val or float("inf"), 1e-3, 12345.0, 0.031, step * 0.1, step / 500, sample)


def write_metrics(path: Path, n: int = 50) -> Path:
    lines = []
    for i in range(10, 10 * n + 1, 10):
        p = progress(i, val=5.2 * math.exp(-i / 200) + 2.1 if i % 100 == 0 else None)
        lines.append(json.dumps({"iter": p.iter, "train_loss": p.train_loss, "val_loss": p.val_loss}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_metrics_are_read_with_one_point_per_step_and_bad_lines_skipped(tmp_path: Path) -> None:
    path = write_metrics(tmp_path / "metrics.jsonl", 10)
    with open(path, "a", encoding="utf-8") as f:
        f.write("not json\n[1, 2]\n")
        f.write(json.dumps({"iter": 50, "train_loss": 9.0, "val_loss": None}) + "\n")  # a resumed run's re-log
    curve = read_metrics(path)
    assert [i for i, _ in curve.train] == list(range(10, 101, 10))
    assert dict(curve.train)[50] == 9.0 and curve.skipped == 2
    assert [i for i, _ in curve.val] == [100]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["iter", "train_loss", "val_loss", "x"]),
                    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3)),
                ),
            ),
        ),
        max_size=8,
    )
)
def test_fuzzed_metrics_files_give_a_curve_or_one_error(tmp_path_factory: pytest.TempPathFactory, lines: list) -> None:
    path = tmp_path_factory.mktemp("m") / "metrics.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        curve = read_metrics(path)
    except MetricsError as e:
        assert str(path) in str(e)
        return
    assert curve.train and all(math.isfinite(v) for _, v in curve.train + curve.val)


@pytest.mark.parametrize("width,height", [(120, 36), (80, 24), (60, 20)])
def test_the_live_view_fits_the_terminal(width: int, height: int) -> None:
    console = Console(width=width, height=height, record=True, force_terminal=True, color_system="truecolor")
    view = LiveView(console)
    for i in range(10, 310, 10):
        view.report(progress(i, val=3.5 if i % 100 == 0 else None, sample="明月\n几时有" if i % 100 == 0 else None))
    lines = console.render_lines(view, console.options, pad=False)
    assert len(lines) <= height // 2 + 2  # chart + two status lines: the evals above stay visible
    assert all(sum(seg.cell_length for seg in line) <= width for line in lines)
    text = "\n".join("".join(seg.text for seg in line) for line in lines)
    assert "train" in text and "val" in text and "iter 300/500" in text and "mfu 3.1%" in text
    printed = console.export_text()
    assert "iter 100/500" in printed and "明月 / 几时有" in printed  # evals and samples scroll above


def test_plain_lines_print_each_eval_and_its_sample_without_escapes() -> None:
    console = Console(width=100, record=True, force_terminal=False)
    report = PlainLines(console)
    report(progress(10))  # the first report is printed (then at most one per 30 s)
    report(progress(20))
    report(progress(100, val=3.2, sample="a\nb\x1b[2Jc"))
    out = console.export_text()
    assert out.count("iter ") == 2 and "val 3.2000" in out
    assert "sample: a / b\\x1b[2Jc" in out and "\x1b" not in out


def test_visible_escapes_control_characters() -> None:
    assert visible("a\tb\x07\nc") == "a\\x09b\\x07 / c"


def test_terminal_chart_has_the_requested_size() -> None:
    curve = LossCurve([(10, 5.0), (20, 4.0), (30, 3.5)], [(30, 3.7)])
    text = terminal_chart(curve, 70, 15, color=False)
    assert len(text.splitlines()) == 15 and max(len(line) for line in text.splitlines()) <= 70


def test_plot_redraws_a_run_and_writes_loss_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    path = write_metrics(folder / "metrics.jsonl")
    assert main(["train", "--plot", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "iteration" in out and "train" in out
    assert f"wrote {folder / 'loss.svg'}" in err.replace("\n", "")
    svg = (folder / "loss.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<script" not in svg and "validation" in svg


def test_plot_of_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--plot", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.jsonl: not found" in err


def test_train_without_data_or_out_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "x.txt"]) == 2
    assert "--out" in capsys.readouterr().err
