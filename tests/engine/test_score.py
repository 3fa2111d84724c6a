import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from babygpt_tui.engine.score import score_ids, windows


@given(st.integers(2, 300), st.integers(1, 40), st.data())
def test_windows_score_every_target_exactly_once(n: int, block: int, data) -> None:
    stride = data.draw(st.integers(1, block))
    counted = []
    for start, end, first in windows(n, block, stride):
        assert end - start <= block
        counted += [t for t in range(start + 1, end + 1) if t >= first]
    assert counted == list(range(1, n))


def test_score_with_full_stride_equals_per_window_cross_entropy(make_tiny_model) -> None:
    model = make_tiny_model(30, block_size=8)
    ids = torch.randint(0, 30, (33,), generator=torch.Generator().manual_seed(0)).tolist()
    got = score_ids(model, ids, stride=8)
    total, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, 32, 8):
            x, y = torch.tensor([ids[s : s + 8]]), torch.tensor([ids[s + 1 : s + 9]])
            total += float(F.cross_entropy(model(x)[0][0], y[0], reduction="sum"))
            n += y.numel()
    assert got.scored == n == 32
    assert math.isclose(got.nll, total / n, rel_tol=1e-5)
    assert math.isclose(got.ppl, math.exp(total / n), rel_tol=1e-5)


def test_smaller_stride_gives_more_context_and_counts_the_same_targets(make_tiny_model) -> None:
    model = make_tiny_model(30, block_size=8)
    ids = torch.randint(0, 30, (50,), generator=torch.Generator().manual_seed(1)).tolist()
    assert score_ids(model, ids, stride=2).scored == score_ids(model, ids, stride=8).scored == 49
