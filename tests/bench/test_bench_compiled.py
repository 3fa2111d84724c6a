"""`bench --compile` rows: a compiled generator per dtype, or a skipped row naming why."""

import pytest
import torch

from babygpt_tui.bench.cases import Plan
from babygpt_tui.bench.compiled import COMPILED_DTYPES, compiled_cases


def test_without_a_compiler_the_compiled_rows_are_skipped_with_the_reason(
    tiny_model, tiny_tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler-anywhere")
    plan = Plan.for_model(tiny_model, tiny_tokenizer)
    cases = compiled_cases(tiny_model, tiny_tokenizer, torch.device("cpu"), plan)
    assert [c.key for c in cases] == [f"engine_{d}_compiled" for d in COMPILED_DTYPES]
    assert all(c.skipped.startswith("skipped: --compile needs a C++ compiler") for c in cases)
