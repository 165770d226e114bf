"""SB3 DQN and PPO through the public API: hyperparameters, a smoke run, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from agents import sb3
from agents.evaluation import evaluate_policy
from agents.policy import load_policy
from sparq_gym.envs.registration import sparq_env_ids


@pytest.mark.parametrize("algo", sb3.ALGORITHMS)
def test_every_env_has_hyperparameters(algo):
    for env_id in sparq_env_ids():
        hyper = sb3.load_hyperparams(env_id, algo)
        assert hyper["n_timesteps"] > 0 and hyper["obs_type"] in ("multidiscrete", "box")
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
