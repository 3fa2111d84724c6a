"""Each warper on hand-built logits, including the edge cases."""

import math

import pytest
import torch

from babygpt_tui.api import SamplingParams
from babygpt_tui.engine import sampling
from babygpt_tui.engine.sampling import min_p, repetition_penalty, sample, top_k, top_p, warp

INF = float("-inf")


def kept(x: torch.Tensor) -> list[int]:
    return torch.nonzero(torch.isfinite(x)).flatten().tolist()


def test_top_k_keeps_k_largest() -> None:
    assert kept(top_k(torch.tensor([1.0, 5.0, 3.0, 4.0]), 2)) == [1, 3]


def test_top_k_larger_than_vocab_or_zero_is_off() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(top_k(x, 10), x)
    assert torch.equal(top_k(x, 0), x)


def test_top_k_keeps_ties_with_the_kth_value() -> None:
    assert kept(top_k(torch.zeros(5), 2)) == [0, 1, 2, 3, 4]


def test_top_p_keeps_smallest_set_reaching_p() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    x = probs.log()
    assert kept(top_p(x, 0.45)) == [0]  # 0.5 alone reaches 0.45
    assert kept(top_p(x, 0.6)) == [0, 1]
    assert kept(top_p(x, 0.96)) == [0, 1, 2, 3]


def test_top_p_tiny_keeps_the_most_likely_token() -> None:
    x = torch.tensor([0.1, 3.0, 0.2])
    assert kept(top_p(x, 1e-9)) == [1]


def test_top_p_on_equal_logits_keeps_enough_mass() -> None:
    out = top_p(torch.zeros(10), 0.35)
    assert len(kept(out)) == 4  # each token has 0.1: three give 0.3 < 0.35, the fourth crosses


def test_min_p_is_relative_to_the_top_probability() -> None:
    probs = torch.tensor([0.6, 0.3, 0.06, 0.04])
    assert kept(min_p(probs.log(), 0.15)) == [0, 1]  # threshold 0.09 drops 0.06 and 0.04
    assert kept(min_p(probs.log(), 0.0)) == [0, 1, 2, 3]


def test_repetition_penalty_pushes_seen_tokens_down_on_both_signs() -> None:
    x = torch.tensor([2.0, -2.0, 1.0])
    out = repetition_penalty(x, [0, 1, 1], penalty=2.0, window=8)
    assert out.tolist() == [1.0, -4.0, 1.0]
    assert x.tolist() == [2.0, -2.0, 1.0]  # input untouched


def test_repetition_penalty_window_limits_history() -> None:
    x = torch.tensor([2.0, 2.0])
    assert repetition_penalty(x, [0, 1], penalty=2.0, window=1).tolist() == [2.0, 1.0]


def test_temperature_zero_is_greedy() -> None:
    x = torch.tensor([0.0, 2.0, 1.9])
    params = SamplingParams(temperature=0.0)
    for seed in range(5):
        assert sample(x, params, [], torch.Generator().manual_seed(seed)).id == 1


def test_temperature_near_zero_does_not_produce_nan() -> None:
    x = torch.tensor([0.0, 50.0, 49.0])
    draw = sample(x, SamplingParams(temperature=1e-7), [], torch.Generator().manual_seed(0))
    assert draw.id == 1 and not torch.isnan(draw.probs).any()
    tiny_but_sampled = sample(x, SamplingParams(temperature=2e-4), [], torch.Generator().manual_seed(0))
    assert tiny_but_sampled.id == 1 and not torch.isnan(tiny_but_sampled.probs).any()


def test_high_temperature_flattens() -> None:
    x = torch.tensor([0.0, 1.0])
    p = torch.softmax(warp(x, SamplingParams(temperature=10.0), []), -1)
    assert abs(float(p[1] - p[0])) < 0.06


def test_warpers_apply_in_order_penalty_temperature_topk_topp_minp() -> None:
    x = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0])
    params = SamplingParams(temperature=1.0, top_k=4, top_p=0.99, min_p=0.05, repetition_penalty=4.0)
    out = warp(x, params, history=[0])
    # penalty makes token 0 -> 1.0; top-k drops token 4; min_p drops what is < 5% of the max
    assert math.isclose(float(out[0]), 1.0)
    assert not torch.isfinite(out[4])


def test_same_seed_same_draws_different_seed_differs() -> None:
    x = torch.zeros(100)
    params = SamplingParams(temperature=1.0)

    def draws(seed: int) -> list[int]:
        g = torch.Generator().manual_seed(seed)
        return [sample(x, params, [], g).id for _ in range(20)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_draws_only_from_kept_tokens() -> None:
    x = torch.tensor([5.0, 4.9, 0.0, 0.0])
    g = torch.Generator().manual_seed(0)
    ids = {sample(x, SamplingParams(temperature=5.0, top_k=2), [], g).id for _ in range(200)}
    assert ids == {0, 1}


@pytest.mark.parametrize("value", [sampling.GREEDY_BELOW / 2, 0.0])
def test_is_greedy_below_threshold(value: float) -> None:
    assert sampling.is_greedy(SamplingParams(temperature=value))


def test_draw_index_follows_the_distribution_and_skips_zeros() -> None:
    probs = torch.tensor([0.0, 0.2, 0.0, 0.8, 0.0])
    g = torch.Generator().manual_seed(0)
    draws = [sampling.draw_index(probs, g) for _ in range(4000)]
    assert set(draws) == {1, 3}
    assert 0.75 < draws.count(3) / len(draws) < 0.85


def test_draw_index_handles_a_single_possible_token() -> None:
    probs = torch.zeros(10)
    probs[9] = 1.0
    g = torch.Generator().manual_seed(1)
    assert {sampling.draw_index(probs, g) for _ in range(50)} == {9}


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.0),
        SamplingParams(temperature=0.0, repetition_penalty=1.5),
        SamplingParams(temperature=0.8),
        SamplingParams(temperature=0.8, top_k=5, top_p=0.9, min_p=0.05, repetition_penalty=1.2),
    ],
)
def test_pick_is_sample_plus_the_events_numbers_in_one_pass(params: SamplingParams) -> None:
    history = [1, 4, 4, 9]
    for seed in range(20):
        logits = torch.randn(50, generator=torch.Generator().manual_seed(seed)) * 3
        want = sample(logits, params, history, torch.Generator().manual_seed(seed))
        got = sampling.pick(logits, params, history, torch.Generator().manual_seed(seed), want_probs=True)
        assert got.id == want.id
        assert got.logprob == pytest.approx(float(torch.log_softmax(logits, -1)[want.id]), abs=1e-6)
        assert got.warped_prob == pytest.approx(float(want.probs[want.id]), abs=1e-7)
        if sampling.is_greedy(params):  # one-hot at the argmax: never built, described by best
            assert got.greedy and got.probs is None and float(want.probs[got.best]) == 1.0
        else:
            assert got.probs is not None and torch.equal(got.probs, want.probs) and got.best == want.id
        assert torch.allclose(got.logprobs, torch.log_softmax(logits, -1))
        assert (
            sampling.pick(
                logits, params, history, None if sampling.is_greedy(params) else torch.Generator().manual_seed(seed)
            ).probs
            is None
        )


def test_pick_of_a_forced_token_reports_it_and_draws_all_the_same() -> None:
    logits = torch.tensor([0.0, 3.0, 1.0])
    greedy = sampling.pick(logits, SamplingParams(temperature=0.0), [], None, forced=0)
    assert greedy.id == 0 and greedy.warped_prob == 0.0
    assert greedy.logprob == pytest.approx(float(torch.log_softmax(logits, -1)[0]))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sampling.pick(logits, SamplingParams(temperature=1.0), [], g1, forced=2)
    sample(logits, SamplingParams(temperature=1.0), [], g2)
    assert torch.equal(g1.get_state(), g2.get_state())  # the forced token still used its random number
