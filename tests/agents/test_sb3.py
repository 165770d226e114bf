"""SB3 DQN and PPO through the public API: hyperparameters, a smoke run, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from agents.evaluation import evaluate_policy
from agents.learners import sb3
from agents.loading import load_policy
from sparq_gym.envs.registration import sparq_env_ids


@pytest.mark.parametrize("algo", sb3.ALGORITHMS)
def test_every_env_has_hyperparameters(algo):
    for env_id in sparq_env_ids():
        hyper = sb3.load_hyperparams(env_id, algo)
        assert hyper["n_timesteps"] > 0 and hyper["env_kwargs"]["obs_type"] in ("multidiscrete", "box")
        assert hyper["policy"] == "MlpPolicy"
    assert sb3.load_hyperparams("SPARQExit-v0", algo) == sb3.load_hyperparams("SPARQExit-MLP-v0", algo)


def test_dqn_smoke_save_and_load(tmp_path, lenet_config):
    out = tmp_path / "dqn"
    result = sb3.train(sb3.Args(algo="dqn", traces="synthetic", n_timesteps=300, out=str(out)))
    assert result.train_steps == 300 and result.wall_time_s > 0
    loaded = load_policy(str(out), lenet_config)
    tables = lenet_config.tables("test")
    obs = tables.observation[:50, 0]
    assert np.array_equal(loaded.act_batch(obs), result.policy.act_batch(obs))


@pytest.mark.slow
@pytest.mark.parametrize("algo", sb3.ALGORITHMS)
def test_sb3_learns_on_synthetic_traces(algo, lenet_config):
    result = sb3.train(sb3.Args(algo=algo, traces="synthetic", seed=0))
    assert evaluate_policy(result.policy, lenet_config)["normalized_score"] >= 0.8


def test_in_order_evaluation_is_the_exact_validation_mean():
    import gymnasium as gym
    from stable_baselines3.common.evaluation import evaluate_policy as sb3_evaluate
    from stable_baselines3.common.monitor import Monitor

    from sparq_gym.traces import make_synthetic_traces

    traces = make_synthetic_traces(37, seed=3, split="train")
    env = sb3.InOrder(gym.make("SPARQExit-v0", traces=traces))
    seen = [env.reset()[1]["sample_index"] for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]

    class AlwaysContinue:
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.zeros(len(obs), dtype=np.int64), None

    # 37 consecutive episodes from an arbitrary start: every sample once
    mean, _ = sb3_evaluate(AlwaysContinue(), Monitor(env), n_eval_episodes=37, warn=False)
    # by hand (spec section 5): final head right -> 1 + 0.3 * s, s = 1 - cost(every head) / cost(plain)
    names = list(traces.counter_names)
    cost = lambda c: c[..., names.index("synaptic_ops")] + c[..., names.index("lif_ops")]  # noqa: E731
    savings = 1.0 - cost(traces.exit_counts[:, -1]) / cost(traces.full_counts)
    right = traces.probs[:, -1].argmax(axis=1) == traces.labels
    # (Monitor rounds each episode's return to 6 decimals)
    assert mean == pytest.approx(float(np.where(right, 1.0 + 0.3 * savings, -1.0).mean()), abs=1e-6)
    assert env.reset(options={"sample_index": 9})[1]["sample_index"] == 9  # the caller's choice wins
