"""Baselines: hand-worked tables and returns, and the oracle as an upper bound."""

from __future__ import annotations

import numpy as np
import pytest

from agents.learners import q_learning
from agents.policy import decide_exits, end_rewards
from agents.references.baselines import (
    BASELINE_NAMES,
    HindsightOracle,
    RandomPolicy,
    make_baseline,
    mean_return,
    threshold_policy,
)


def test_paper_configuration_as_a_table():
    policy = threshold_policy((0.6, 0.7), n_bins=10)
    assert policy.actions[0].tolist() == [0] * 6 + [1] * 4
    assert policy.actions[1].tolist() == [0] * 7 + [1] * 3
    assert [r["threshold"] for r in policy.thresholds()] == [0.6, 0.7]


def test_hand_worked_returns(hand_config):
    tables = hand_config.tables("test")
    # rewards: sample 0 = [1.2625, -1, 0.9625], sample 1 = [-1, 1.1875, 0.9625]
    assert mean_return(make_baseline("always-final", hand_config), tables) == pytest.approx(0.9625)
    assert mean_return(make_baseline("always-exit-1", hand_config), tables) == pytest.approx(0.13125)
    assert mean_return(make_baseline("always-exit-2", hand_config), tables) == pytest.approx(0.09375)
    # cfg 0.6/0.7: both samples have confidence 0.5 at exit 1 (no exit); 0.75 and 0.875 at exit 2
    assert mean_return(make_baseline("cfg-0.6-0.7", hand_config), tables) == pytest.approx(0.09375)
    assert mean_return(HindsightOracle(), tables) == pytest.approx((1.2625 + 1.1875) / 2)


def test_oracle_return_is_at_least_every_policy(lenet_config):
    tables = lenet_config.tables("test")
    oracle_exits = HindsightOracle().choose_places(tables.decisions())
    oracle_rewards = end_rewards(tables)[np.arange(tables.n_samples), oracle_exits]
    learned = q_learning.train(q_learning.Args(env_id=lenet_config.env_id, traces="synthetic", seed=0)).policy
    policies = [make_baseline(name, lenet_config) for name in BASELINE_NAMES] + [learned]
    policies += [RandomPolicy(seed) for seed in range(3)]
    for policy in policies:
        assert mean_return(HindsightOracle(), tables) >= mean_return(policy, tables)
    # per sample too: no policy's reward on any sample beats the oracle's on that sample
    rows = np.arange(tables.n_samples)
    for policy in policies:
        assert np.all(oracle_rewards >= end_rewards(tables)[rows, decide_exits(policy, tables)] - 1e-12)


def test_static_thresholds_tuned_on_train_never_beat_the_exact_optimum_there(lenet_config):
    train = lenet_config.tables("train")
    assert (
        mean_return(make_baseline("exact-optimum", lenet_config), train)
        >= mean_return(make_baseline("static-threshold", lenet_config), train) - 1e-12
    )


def test_random_policy_is_seeded():
    first = RandomPolicy(seed=3).act_batch(np.zeros((100, 2), dtype=np.int64))
    second = RandomPolicy(seed=3).act_batch(np.zeros((100, 2), dtype=np.int64))
    assert first.tolist() == second.tolist() and 20 < first.sum() < 80


def test_unknown_baseline_names_the_choices(hand_config):
    with pytest.raises(ValueError, match="always-final"):
        make_baseline("always-never", hand_config)
    with pytest.raises(ValueError, match="3 thresholds for 2 early exits"):
        make_baseline("cfg-0.1-0.2-0.3", hand_config)
    with pytest.raises(ValueError, match="exact-optimum-gammaG"):
        make_baseline("exact-optimum-gammaX", hand_config)


def test_discounted_optimum_baseline_on_hand_traces(hand_config):
    # gamma 0.12 < 0.2625 / 2.15: exit at exit 1 (see test_exact_optimum); 0.9 continues
    eager = make_baseline("exact-optimum-gamma0.12", hand_config)
    assert eager.name == "exact-optimum-gamma0.12" and eager.actions[0, 5] == 1
    assert make_baseline("exact-optimum-gamma0.9", hand_config).actions[0, 5] == 0
