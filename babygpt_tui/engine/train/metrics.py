"""metrics.jsonl: one JSON object per logged step, appended by rank 0.

Records: iter, train_loss, val_loss (null between evals), lr, tokens_per_s, mfu, elapsed_s,
tokens_seen, and at evals the sample text. `babygpt-tui train --plot` reads them back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...atomic import write_atomic
from .files import write_error


class MetricsLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def start_fresh(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            raise write_error(self.path, e) from None

    def rewind(self, iteration: int) -> None:
        """On resume, drop records after the resumed step (a killed run may have logged steps
        past its last saved state), so the curve has one point per step."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError):
            return  # unreadable old metrics: keep appending; --plot skips what it cannot read
        kept = [line for line in lines if _iter_of(line, default=0) <= iteration]
        if len(kept) != len(lines):
            try:
                write_atomic(self.path, "".join(kept).encode("utf-8"))
            except OSError as e:
                raise write_error(self.path, e, iteration) from None

    def append(self, record: dict[str, Any], saved_iter: int) -> None:
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as e:
            raise write_error(self.path, e, saved_iter) from None


def _iter_of(line: str, default: int) -> int:
    try:
        value = json.loads(line).get("iter")
    except (ValueError, AttributeError):
        return default
    return value if isinstance(value, int) else default
