"""The import boundary: the engine never imports textual; the UI and the storage modules never
import torch. Checked two ways: every module's own import statements (so a violation is named by
file), and a fresh interpreter importing the whole UI (so an indirect import cannot hide one)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "babygpt_tui"
TORCH_FREE = [
    "cli.py",
    "api.py",
    "explanation.py",
    "config.py",
    "config_write.py",
    "paths.py",
    "session.py",
    "session_store.py",
    "session_export.py",
    "session_migrations.py",
    "atomic.py",
    "errors.py",
    "token_record.py",
    "batching.py",
    "commands/engine.py",
]


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(kind: str) -> list[Path]:
    if kind == "ui":
        return sorted((PKG / "ui").rglob("*.py"))
    if kind == "engine":
        return sorted((PKG / "engine").rglob("*.py"))
    return [PKG / name for name in TORCH_FREE]


@pytest.mark.parametrize(
    "kind,forbidden",
    [("ui", "torch"), ("engine", "textual"), ("engine", "rich"), ("torch_free", "torch"), ("torch_free", "textual")],
)
def test_no_module_names_the_forbidden_toolkit(kind: str, forbidden: str) -> None:
    files = _files(kind)
    assert files and all(f.exists() for f in files), files
    offenders = [str(f.relative_to(PKG)) for f in files if forbidden in _top_level_imports(f)]
    assert offenders == [], f"{offenders} import {forbidden}"


def _modules(kind: str) -> list[str]:
    return [
        ".".join(("babygpt_tui",) + f.relative_to(PKG).with_suffix("").parts)
        for f in _files(kind)
        if f.name != "__init__.py"
    ]


@pytest.mark.parametrize("kind,forbidden", [("ui", "torch"), ("torch_free", "torch"), ("engine", "textual")])
def test_importing_every_module_does_not_load_the_forbidden_toolkit(kind: str, forbidden: str) -> None:
    imports = "; ".join(f"import {m}" for m in _modules(kind))
    code = f"import sys; {imports}; print({forbidden!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"importing the {kind} modules loads {forbidden}"


FULL_SESSION = r"""
import asyncio, sys
from babygpt_tui.api import Load, SamplingParams
from babygpt_tui.ui.app import BabyGPTApp
from babygpt_tui.ui.engine_client import ChildProcess, engine_env

async def main():
    app = BabyGPTApp(Load(sys.argv[1], device="cpu", dtype="float32", threads=1),
                     lambda: ChildProcess(env=engine_env(1)), params=SamplingParams(max_new_tokens=20))
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.replies.ready:
            await asyncio.sleep(0.02)
        app.query_one("#prompt").text = "明月"
        await pilot.press("enter")
        while not (app.chat.turns and app.chat.turns[-1].stop_reason):
            await asyncio.sleep(0.02)
        await pilot.press("ctrl+t", "f4", "escape", "f3")
        while len(app.chat.turns) < 2 or app.chat.turns[-1].stop_reason is None:
            await asyncio.sleep(0.02)
        await pilot.press("ctrl+q")
    print(len(app.chat.turns[-1].reply), "torch" in sys.modules)

asyncio.run(main())
"""


def test_a_whole_tui_session_leaves_torch_out_of_the_ui_process(tiny_checkpoint: Path) -> None:
    """The engine runs in its own process: a reply, the heat-map, the inspector and a replay in
    the UI process never import torch there."""
    out = subprocess.run(
        [sys.executable, "-c", FULL_SESSION, str(tiny_checkpoint)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["20", "False"]
