"""The paper's Q-learner: Eq. 2 by hand, the fast loop against the real environment, saving."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agents.benchmark.bench_q_learning import reference_episodes
from agents.common import train_validation_split
from agents.learners import q_learning
from agents.loading import load_policy
from agents.policy import TablePolicy
from agents.references.baselines import mean_return
from sparq_gym.envs.core import Action, build_exit_tables
from sparq_gym.envs.decisions import subset_decisions


def _tables(traces, n_bins=10):
    return build_exit_tables(
        traces, alpha=0.3, n_bins=n_bins, cost="total_ops", obs_type="multidiscrete"
    ).decisions()


def test_one_update_by_hand(tiny_traces):
    tables = _tables(tiny_traces)
    q = np.zeros((2 * 10, 2)).tolist()  # one row per cell k * B + b
    # Episode 0: sample 0, explore at exit 1 with action CONTINUE, then explore with EXIT at exit 2.
    draws = q_learning.EpisodeDraws(samples=[0], explore=[[0.0, 0.0]], random_action=[[0, 1]])
    returns, n_steps = q_learning.run_episodes(q, tables, draws, [1.0], 0, 1, learning_rate=0.1, gamma=0.9)
    assert n_steps == 2
    # CONTINUE at (0, bin 5): target = 0 + 0.9 * max Q(1, bin 7) = 0 -> Q stays 0.
    # EXIT at (1, bin 7): exit 2 predicts 1, label 0 -> reward -1, Q = 0.1 * (-1 - 0) = -0.1.
    assert returns == [-1.0]
    assert q[5] == [0.0, 0.0] and q[17] == [0.0, pytest.approx(-0.1)]
    # Episode 2: sample 0 again, greedy (epsilon 0): Q(0, 5) is a tie -> CONTINUE; at (1, 7)
    # greedy picks CONTINUE (0 > -0.1): final head right, reward 1 + 0.3 * (-0.125) = 0.9625.
    draws = q_learning.EpisodeDraws(samples=[0], explore=[[0.5, 0.5]], random_action=[[1, 1]])
    q_learning.run_episodes(q, tables, draws, [0.0], 0, 1, learning_rate=0.1, gamma=0.9)
    assert q[17][Action.CONTINUE] == pytest.approx(0.09625)
    # the bootstrap used Q(1, 7) *before* this episode's update (0), so Q(0, 5, CONTINUE) is 0
    assert q[5][Action.CONTINUE] == 0.0


def test_fast_loop_equals_stepping_the_environment(synthetic_traces):
    import gymnasium as gym

    import sparq_gym  # noqa: F401

    tables = _tables(synthetic_traces)
    rng = np.random.default_rng(5)
    n_episodes = 400
    draws = q_learning.draw_episodes(rng, np.arange(tables.n_samples), n_episodes, tables)
    epsilons = np.linspace(1.0, 0.1, n_episodes).tolist()
    fast = np.zeros((20, 2)).tolist()
    fast_returns, _ = q_learning.run_episodes(fast, tables, draws, epsilons, 0, n_episodes, 0.1, 0.9)

    # Reference: the real environment and Eq. 2 written out with numpy.
    env = gym.make("SPARQExit-LeNet-v0", traces=synthetic_traces, alpha=0.3)
    q = np.zeros((2, 10, 2))
    returns = reference_episodes(env, draws, epsilons, n_episodes, q, learning_rate=0.1, gamma=0.9)
    assert np.allclose(np.array(fast).reshape(2, 10, 2), q, atol=1e-12)
    assert np.allclose(fast_returns, returns)


def test_fast_loop_equals_stepping_the_depth_time_environment():
    """The same loop on the depth x time family: masks, WAIT, exploration among valid actions."""
    import gymnasium as gym

    import sparq_gym  # noqa: F401
    from sparq_gym.envs.depth_time_core import build_depth_time_tables
    from sparq_gym.traces.timeset import make_synthetic_time_traces

    traces = make_synthetic_time_traces(300, seed=2, split="train")
    tables = build_depth_time_tables(traces, alpha=0.3, n_bins=10, cost="total_ops", obs_type="multidiscrete")
    decisions = tables.decisions()
    rng = np.random.default_rng(6)
    n_episodes = 500
    draws = q_learning.draw_episodes(rng, np.arange(decisions.n_samples), n_episodes, decisions)
    epsilons = np.linspace(1.0, 0.1, n_episodes).tolist()
    fast = np.zeros((int(np.prod(decisions.cell_shape)), 3)).tolist()
    fast_returns, steps = q_learning.run_episodes(fast, decisions, draws, epsilons, 0, n_episodes, 0.1, 0.9)
    env = gym.make("SPARQDepthTime-v0", traces=traces, invalid_action="raise")  # a masked pick would raise
    q = np.zeros((*decisions.cell_shape, 3))
    returns = reference_episodes(env, draws, epsilons, n_episodes, q, learning_rate=0.1, gamma=0.9)
    assert np.allclose(np.array(fast).reshape(q.shape), q, atol=1e-12)
    assert np.allclose(fast_returns, returns) and steps > n_episodes  # WAIT and CONTINUE were taken


def test_training_is_seeded_and_early_stops_on_validation(synthetic_traces):
    tables = _tables(synthetic_traces)
    learn, val = train_validation_split(tables.n_samples, 0.2, seed=0)
    assert len(val) == 100 and not set(learn) & set(val)
    args = q_learning.Args(total_episodes=4000, min_episodes=1000, eval_every=250, patience=3)
    first = q_learning.train_on_tables(
        subset_decisions(tables, learn), subset_decisions(tables, val), args, np.random.default_rng(1)
    )
    second = q_learning.train_on_tables(
        subset_decisions(tables, learn), subset_decisions(tables, val), args, np.random.default_rng(1)
    )
    assert np.array_equal(first.q_values, second.q_values)
    assert first.stopped_early and first.episodes < 4000
    assert first.best_validation_return == max(c["validation_return"] for c in first.curve)


def test_saved_policy_round_trip(tmp_path, lenet_config):
    out = tmp_path / "ql"
    result = q_learning.train(q_learning.Args(traces="synthetic", seed=0, out=str(out)))
    assert (out / "policy.npz").exists() and (out / "policy.json").exists()
    assert (out / "learning_curve.json").exists()
    loaded = load_policy(str(out), lenet_config)
    assert isinstance(loaded, TablePolicy)
    assert np.array_equal(loaded.actions, result.policy.actions)
    assert np.array_equal(loaded.q_values, result.q_values)


def test_ten_thousand_episodes_run(lenet_config):
    # Not a timing test (see agents/bench_q_learning.py): the full paper budget runs to the end.
    args = q_learning.Args(traces="synthetic", seed=0, min_episodes=10_000)
    result = q_learning.train(args)
    assert result.episodes == 10_000 and not result.stopped_early


def test_early_stopping_reads_the_whole_train_split_by_default(lenet_config):
    args = q_learning.Args(env_id=lenet_config.env_id, traces="synthetic", seed=0)
    assert args.early_stopping_on == "train"
    result = q_learning.train(args)
    # the kept table's validation return is its mean return on every train sample
    assert result.best_validation_return == pytest.approx(
        mean_return(result.policy, lenet_config.tables("train")), abs=1e-12
    )
    held_out = q_learning.train(dataclasses.replace(args, early_stopping_on="holdout"))
    assert held_out.best_validation_return != pytest.approx(result.best_validation_return)
    with pytest.raises(ValueError, match=r"early_stopping_on must be one of \['train', 'holdout'\]"):
        q_learning.train(dataclasses.replace(args, early_stopping_on="test"))
