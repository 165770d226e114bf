"""The exact optimum against brute force over every table policy, and a hand-worked case."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from agents.policy import TablePolicy, decide_exits, end_rewards
from agents.references.baselines import HindsightOracle, mean_return, tune_static_thresholds
from agents.references.exact_optimum import discount_weights, fill_unseen_bins, solve_exact_optimum
from sparq_gym.envs.core import build_exit_tables
from sparq_gym.traces import make_synthetic_traces


def _tables(n, n_exits, n_bins, seed):
    traces = make_synthetic_traces(n, n_exits=n_exits, n_classes=4, seed=seed, split="train")
    return build_exit_tables(traces, alpha=0.3, n_bins=n_bins, cost="total_ops", obs_type="multidiscrete")


def _brute_force(tables, n_bins):
    n_early = tables.n_early_exits
    best = -np.inf
    for bits in itertools.product((0, 1), repeat=n_early * n_bins):
        policy = TablePolicy(np.array(bits).reshape(n_early, n_bins))
        best = max(best, mean_return(policy, tables))
    return best


@pytest.mark.parametrize(("n_exits", "n_bins", "seed"), [(3, 3, 0), (3, 3, 1), (3, 4, 2), (4, 2, 3)])
def test_exact_optimum_matches_brute_force(n_exits, n_bins, seed):
    tables = _tables(40, n_exits, n_bins, seed)
    result = solve_exact_optimum(tables, n_bins)
    brute = _brute_force(tables, n_bins)
    assert result.mean_return == pytest.approx(brute, abs=1e-12)
    # the returned table really earns the claimed return
    assert mean_return(result.policy, tables) == pytest.approx(brute, abs=1e-12)
    # and beats every static threshold pair, while the oracle bounds it
    assert result.mean_return >= tune_static_thresholds(tables, n_bins)[1] - 1e-12
    assert mean_return(HindsightOracle(), tables) >= result.mean_return


def test_discount_weights_by_hand():
    # three exits: exit1 after 0 CONTINUEs, exit2 after 1, the final head on exit2's step
    assert discount_weights(3, 0.9).tolist() == pytest.approx([1.0, 0.9, 0.9])
    assert discount_weights(4, 0.5).tolist() == pytest.approx([1.0, 0.5, 0.25, 0.25])


@pytest.mark.parametrize(
    ("n_exits", "n_bins", "seed", "gamma"), [(3, 3, 0, 0.9), (3, 4, 2, 0.5), (4, 2, 3, 0.7)]
)
def test_discounted_optimum_matches_brute_force(n_exits, n_bins, seed, gamma):
    tables = _tables(40, n_exits, n_bins, seed)
    rows = np.arange(tables.n_samples)
    weights = gamma ** np.minimum(np.arange(n_exits), n_exits - 2)  # gamma**(CONTINUEs before the reward)
    discounted = end_rewards(tables) * weights

    def value(policy):
        return discounted[rows, decide_exits(policy, tables)].mean()

    best = max(
        value(TablePolicy(np.array(bits).reshape(n_exits - 1, n_bins)))
        for bits in itertools.product((0, 1), repeat=(n_exits - 1) * n_bins)
    )
    result = solve_exact_optimum(tables, n_bins, gamma=gamma)
    assert result.mean_return == pytest.approx(best, abs=1e-12)
    assert value(result.policy) == pytest.approx(best, abs=1e-12)
    assert result.policy.name == f"exact-optimum-gamma{gamma:g}"


def test_discount_moves_the_hand_worked_optimum(tiny_traces):
    # Both samples are in bin 5 at exit 1: EXIT there earns 1.2625 - 1 = 0.2625; CONTINUE
    # earns gamma * (0.9625 + 1.1875) = gamma * 2.15 (both later rewards come one step on).
    # So the discounted optimum exits at exit 1 iff gamma < 0.2625 / 2.15 = 0.12209...
    tables = build_exit_tables(tiny_traces, alpha=0.3, n_bins=10, cost="total_ops", obs_type="multidiscrete")
    low = solve_exact_optimum(tables, 10, gamma=0.12)
    assert low.policy.actions[0, 5] == 1
    assert low.mean_return == pytest.approx(0.2625 / 2)
    high = solve_exact_optimum(tables, 10, gamma=0.13)
    assert high.policy.actions[0, 5] == 0
    assert high.mean_return == pytest.approx(0.13 * 2.15 / 2)
    with pytest.raises(ValueError, match=r"gamma must lie in \(0, 1\]"):
        solve_exact_optimum(tables, 10, gamma=1.5)


def test_hand_worked_optimum(tiny_traces):
    # Rewards (alpha 0.3): sample 0 = [1.2625, -1, 0.9625], sample 1 = [-1, 1.1875, 0.9625];
    # both are in bin 5 at exit 1, so EXIT there earns 0.2625 and CONTINUE earns
    # 0.9625 (sample 0 goes on to the final head, bin 7) + 1.1875 (sample 1 exits, bin 8).
    tables = build_exit_tables(tiny_traces, alpha=0.3, n_bins=10, cost="total_ops", obs_type="multidiscrete")
    result = solve_exact_optimum(tables, 10)
    assert result.mean_return == pytest.approx((0.9625 + 1.1875) / 2)
    assert result.policy.actions[0, 5] == 0
    assert result.policy.actions[1, 7] == 0 and result.policy.actions[1, 8] == 1
    assert result.n_candidates == 2  # only bin 5 is read at exit 1


def test_backward_induction_is_not_exact_but_the_search_is(tiny_traces):
    # Cell A (bins 0, 0): rewards exit1 -1, exit2 +1, final -1 (one sample).
    # Cell B (bins 1, 0): rewards exit1 1.2, exit2 -1, final +1 (three samples).
    # Backward induction decides (exit2, bin 0) on all four samples: CONTINUE (2 > -2),
    # then exits B at exit1: total 3.6 - 1 = 2.6. Optimal: B exits at exit1 and A, alone
    # at exit2, exits there: 3.6 + 1 = 4.6.
    base = build_exit_tables(tiny_traces, alpha=0.3, n_bins=2, cost="total_ops", obs_type="multidiscrete")
    rewards = np.array([[-1.0, 1.0, -1.0]] + [[1.2, -1.0, 1.0]] * 3)
    reward = np.zeros((4, 2, 2))
    reward[:, :, 1] = rewards[:, :2]
    reward[:, 1, 0] = rewards[:, 2]
    bins = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]])
    tables = dataclasses.replace(
        base,
        reward=reward,
        bins=bins,
        labels=np.zeros(4, dtype=np.int64),
        correct=np.ones((4, 3), dtype=bool),
        savings=np.zeros((4, 3)),
        observation=np.stack([np.broadcast_to([0, 1], (4, 2)), bins[:, :2]], axis=2),
        predictions=np.zeros((4, 3), dtype=np.int64),
        confidence=np.zeros((4, 3)),
        cost=np.zeros((4, 3)),
        full_cost=np.ones(4),
        counts=np.zeros((4, 3, 5), dtype=np.int64),
    )
    assert np.allclose(end_rewards(tables), rewards)
    result = solve_exact_optimum(tables, 2)
    assert result.mean_return == pytest.approx(4.6 / 4)
    backward = TablePolicy(np.array([[0, 1], [0, 0]]))  # what backward induction picks
    assert mean_return(backward, tables) == pytest.approx(2.6 / 4)
    assert _brute_force(tables, 2) == pytest.approx(4.6 / 4)


def test_unseen_bins_copy_nearest_seen_bin():
    actions = np.array([[0, 0, 1, 0, 0]])
    seen = np.array([[False, True, True, False, False]])
    # bin 0 -> nearest seen is 1 (0); bins 3, 4 -> nearest seen is 2 (1)
    assert fill_unseen_bins(actions, seen).tolist() == [[0, 0, 1, 1, 1]]
    seen = np.array([[True, False, True, False, False]])
    actions = np.array([[0, 0, 1, 0, 0]])
    # bin 1 is between 0 (CONTINUE) and 2 (EXIT): ties go to the higher bin
    assert fill_unseen_bins(actions, seen)[0, 1] == 1


def test_too_many_candidates_is_refused():
    tables = _tables(3000, 4, 20, 0)
    with pytest.raises(ValueError, match="fewer bins"):
        solve_exact_optimum(tables, 20)
