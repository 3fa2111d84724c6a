"""The import boundary: the engine never imports textual; the UI and the storage modules never
import torch. Checked in a fresh interpreter so other tests' imports cannot hide a violation."""

import subprocess
import sys

import pytest

CASES = [
    ("babygpt_tui.engine.generate", "textual"),
    ("babygpt_tui.engine.train", "textual"),
    ("babygpt_tui.engine.checkpoint", "textual"),
    ("babygpt_tui.cli", "torch"),
    ("babygpt_tui.api", "torch"),
]
OPTIONAL = [
    ("babygpt_tui.ui.app", "torch"),
    ("babygpt_tui.config", "torch"),
    ("babygpt_tui.session", "torch"),
    ("babygpt_tui.paths", "torch"),
]


def _imports(module: str, forbidden: str) -> bool:
    code = f"import sys, {module}; print({forbidden!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize("module,forbidden", CASES + OPTIONAL)
def test_module_does_not_import_forbidden_toolkit(module: str, forbidden: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not written yet")
    assert not _imports(module, forbidden), f"{module} imports {forbidden}"
