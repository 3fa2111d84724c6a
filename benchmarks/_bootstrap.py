"""Make `babygpt_tui` importable when a script here runs from a fresh clone without `pip install`.

The benchmark code itself lives in the package (`babygpt_tui/bench/`), so `babygpt-tui bench`
works from any install; these scripts are thin runnable entry points to the same code."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
