"""mo-SPARQExit-*-v0: MO-Gymnasium's vector-reward form of v0, scalarized back to v0 by (1, alpha)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401
from sparq_gym.envs.registration import mo_env_ids, sparq_env_ids
from sparq_gym.traces import make_synthetic_traces


def test_ids_follow_the_v0_table():
    assert mo_env_ids() == ["mo-" + env_id for env_id in sparq_env_ids()]
    assert all(env_id in gym.registry for env_id in mo_env_ids())


def test_hand_worked_vector_rewards():
    from sparq_gym.envs.mo_exit_env import MOSPARQExitEnv

    env = MOSPARQExitEnv(traces=make_synthetic_traces(100, seed=0), alpha=0.3)
    space = env.reward_space
    for sample in range(100):
        env.reset(options={"sample_index": sample})
        _, reward, terminated, _, info = env.step(0)  # CONTINUE at exit 0: not the end
        assert not terminated and reward.tolist() == [0.0, 0.0]
        _, reward, terminated, _, info = env.step(1)
        expected = [1.0, info["savings"]] if info["correct"] else [-1.0, 0.0]
        assert terminated and reward.tolist() == expected and space.contains(reward)


@pytest.mark.parametrize("env_id", sparq_env_ids())
@pytest.mark.parametrize("alpha", [0.3, 0.7])
def test_linear_reward_with_weights_one_alpha_is_v0(env_id, alpha):
    wrappers = pytest.importorskip("mo_gymnasium.wrappers")
    traces = make_synthetic_traces(300, seed=1)
    mo_env = wrappers.LinearReward(
        gym.make("mo-" + env_id, traces=traces, alpha=alpha), weight=np.array([1.0, alpha])
    )
    env = gym.make(env_id, traces=traces, alpha=alpha)
    rng = np.random.default_rng(0)
    for episode in range(600):
        obs_mo, _ = mo_env.reset(seed=episode)
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            action = int(rng.integers(2))
            obs_mo, reward_mo, done, _, _ = mo_env.step(action)
            obs, reward, done_v0, _, _ = env.step(action)
            assert done == done_v0 and np.array_equal(obs_mo, obs)
            # np.dot may fuse the multiply-add: equal to v0's 1 + alpha * s up to one rounding
            assert float(reward_mo) == pytest.approx(float(reward), rel=0, abs=4e-16)


@pytest.mark.filterwarnings("ignore:.*reward returned by `step")  # MO: a vector reward
def test_mo_env_passes_gymnasiums_checker():
    from gymnasium.utils.env_checker import check_env

    from sparq_gym.envs.mo_exit_env import MOSPARQExitEnv

    check_env(MOSPARQExitEnv(traces=make_synthetic_traces(50, seed=0)), skip_render_check=True)


@pytest.mark.parametrize("env_id", [f"mo-SPARQExit-{name}-v0" for name in ("MLP", "LeNet", "AlexNet")])
def test_sb3_check_env_passes_on_the_scalarized_mo_ids(env_id):
    """SB3's checker wants a scalar reward, which an MO-Gymnasium id by design does not give; as
    every sparq command runs it (``LinearReward`` with weights (1, alpha)) it passes, unpatched,
    20 times (masked actions do not arise: every v0 action is valid)."""
    import warnings

    wrappers = pytest.importorskip("mo_gymnasium.wrappers")
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    from agents.common import EnvConfig

    config = EnvConfig(env_id)
    if not (config.family.shipped_dir(str(config.backbone), "qdsnn") / "manifest.json").exists():
        pytest.skip("no shipped traces")
    env = config.make_env("train")
    assert isinstance(env, wrappers.LinearReward)
    for seed in range(20):
        env.action_space.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sb3_checker.check_env(env, warn=True)
