"""Evaluation: hand-worked metrics, and tables == stepping the real environment."""

from __future__ import annotations

import numpy as np
import pytest

from agents.evaluation import REQUIRED_KEYS, evaluate_policy
from agents.learners import q_learning
from agents.policy import CallablePolicy, decide_exits, end_rewards
from agents.references.baselines import make_baseline, threshold_policy


def test_hand_worked_metrics(hand_config):
    # cfg 0.6/0.7 ends both samples at exit 2: sample 0 wrong (-1), sample 1 right (1.1875).
    result = evaluate_policy(make_baseline("cfg-0.6-0.7", hand_config), hand_config, "test")
    assert set(REQUIRED_KEYS) <= set(result)
    assert result["mean_return"] == pytest.approx(0.09375)
    assert result["accuracy"] == 0.5
    assert result["mean_savings"] == pytest.approx(0.625)  # 1 - (300 + 300) / (800 + 800)
    # total ops = synaptic_ops + lif_ops (the environments' default cost)
    assert result["mean_synaptic_ops"] == 300 and result["mean_total_ops"] == 600
    # sparq model: 300 MACs x 4.6 + 300 ACs x 0.03 + 150 x (0.9 + 0.1) + 3000 bytes x 80 pJ
    assert result["mean_energy_j"] == pytest.approx(241_539e-12)
    assert result["exit_distribution"] == [0.0, 1.0, 0.0]
    per_class = np.array(result["exit_distribution_per_class"])
    assert per_class[0].tolist() == [0, 1, 0] and per_class[2].tolist() == [0, 1, 0]
    # R_always_final = 0.9625; R_best = 1.075 (tests/agents/test_exact_optimum.py)
    assert result["reference"]["always_final"] == pytest.approx(0.9625)
    assert result["reference"]["exact_optimum"] == pytest.approx(1.075)
    assert result["normalized_score"] == pytest.approx((0.09375 - 0.9625) / (1.075 - 0.9625))
    assert result["thresholds_text"] == "0.6/0.7"


def _step_env(env, policy, n):
    """Play every sample once through the real environment; return exits and returns."""
    exits, returns = [], []
    for i in range(n):
        obs, _ = env.reset(options={"sample_index": i})
        while True:
            obs, reward, terminated, truncated, info = env.step(policy.act(obs))
            if terminated or truncated:
                exits.append(info["exit"])
                returns.append(reward)
                break
    return np.array(exits), np.array(returns)


@pytest.mark.parametrize("obs_type", ["multidiscrete", "box"])
def test_tables_equal_stepping_the_environment(lenet_config, obs_type):
    tables = lenet_config.tables("test", obs_type)
    n = 600
    if obs_type == "box":
        # a policy of the user's kind: reads the confidence and the exit one-hot, no act_batch
        policy = CallablePolicy(lambda obs: int(obs[0] >= (0.65 if obs[3] else 0.55)), obs_type="box")
    else:
        policy = q_learning.train(q_learning.Args(traces="synthetic", seed=1)).policy
    env = lenet_config.make_env("test", obs_type)
    exits, returns = _step_env(env, policy, n)
    table_exits = decide_exits(policy, tables)[:n]
    assert table_exits.tolist() == exits.tolist()
    assert np.allclose(end_rewards(tables)[np.arange(n), table_exits], returns)


def test_threshold_policy_walk_equals_vectorised_choice(lenet_config):
    tables = lenet_config.tables("test")
    policy = threshold_policy((0.7, 0.5), lenet_config.settings.n_bins)
    batched = decide_exits(policy, tables)
    walked = decide_exits(CallablePolicy(policy.act), tables)
    assert batched.tolist() == walked.tolist()


def test_q_learning_scores_above_point_nine_on_synthetic_traces(lenet_config):
    scores = [
        evaluate_policy(q_learning.train(q_learning.Args(traces="synthetic", seed=s)).policy, lenet_config)[
            "normalized_score"
        ]
        for s in range(3)
    ]
    assert np.mean(scores) >= 0.9
