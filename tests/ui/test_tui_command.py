"""`babygpt-tui` (no subcommand): the loader it hands to the app, and the missing bundled model."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from babygpt_tui.commands import tui
from babygpt_tui.errors import UserError


def args(**kw) -> argparse.Namespace:
    base = dict(model=None, vocab_from=None, device="cpu", dtype="float32", threads=None, session=None, config=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_missing_bundled_model_explains_how_to_pass_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tui, "bundled_model_path", lambda: tmp_path / "models/songci-small.safetensors")
    with pytest.raises(UserError, match="--model"):
        tui.make_loader(args())()


def test_loader_loads_the_model_given_with_model(tiny_checkpoint) -> None:
    backend = tui.make_loader(args(model=str(tiny_checkpoint)))()
    assert backend.info.name == tiny_checkpoint.name
    assert backend.unknown_chars("明☃") == ["☃"]


def test_the_tui_leaves_a_core_to_the_ui_unless_threads_are_set(tiny_checkpoint) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # as on a 2-core machine
        assert tui.make_loader(args(model=str(tiny_checkpoint)))().info.threads == 1
        torch.set_num_threads(2)
        assert tui.make_loader(args(model=str(tiny_checkpoint), threads=2))().info.threads == 2
    finally:
        torch.set_num_threads(before)


def test_importing_the_app_and_building_the_loader_does_not_import_torch() -> None:
    code = (
        "import sys, argparse; from babygpt_tui.commands import tui; from babygpt_tui.ui.app import BabyGPTApp; "
        "tui.make_loader(argparse.Namespace(model='x', vocab_from=None, device=None, dtype=None, threads=None)); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
