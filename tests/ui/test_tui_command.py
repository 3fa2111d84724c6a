"""`babygpt-tui` (no subcommand): what it asks the engine to load, the missing bundled model, and
the exit code of the "model could not be loaded" screen."""

from __future__ import annotations

import pytest

from babygpt_tui import cli
from babygpt_tui.commands import tui
from babygpt_tui.config import resolve_settings
from babygpt_tui.errors import UserError


def settings(*argv: str):
    return resolve_settings(cli.build_parser().parse_args(list(argv)))[0]


def test_missing_bundled_model_explains_how_to_pass_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tui, "bundled_model_path", lambda: tmp_path / "models/songci-small.safetensors")
    with pytest.raises(UserError, match="--model"):
        tui.load_request(settings())


def test_the_load_request_carries_the_model_flags(tiny_checkpoint) -> None:
    load = tui.load_request(settings("--model", str(tiny_checkpoint), "--dtype", "float32", "--threads", "2"))
    assert load.model == str(tiny_checkpoint) and load.dtype == "float32" and load.threads == 2
    assert tui.load_request(settings()).model.endswith("songci-small.safetensors")
