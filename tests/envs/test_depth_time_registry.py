"""Every registered depth x time id passes the Gymnasium and SB3 checkers and behaves the same."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401  (registers the ids)
from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv, time_trace_dir
from sparq_gym.envs.registration import DEPTH_TIME_GENERIC_ENV_ID, DEPTH_TIME_TABLE, depth_time_env_ids
from sparq_gym.traces.timeset import make_synthetic_time_traces

ALL_IDS = [*depth_time_env_ids(), DEPTH_TIME_GENERIC_ENV_ID]


@pytest.fixture(scope="module")
def user_trace_dir(tmp_path_factory):
    """A user's own depth-time trace directory, for the generic id."""
    directory = tmp_path_factory.mktemp("user_time_traces")
    make_synthetic_time_traces(200, seed=3, split="train").save(directory)
    return directory


def _make(env_id: str, user_dir=None, **kwargs):
    """The env with its shipped traces, or synthetic ones until the pipeline ships them."""
    if env_id == DEPTH_TIME_GENERIC_ENV_ID:
        return gym.make(env_id, trace_dir=user_dir, **kwargs)
    backbone = next(e.backbone for e in DEPTH_TIME_TABLE if e.env_id == env_id)
    if not (time_trace_dir(backbone) / "manifest.json").exists():
        kwargs.setdefault("traces", make_synthetic_time_traces(200, seed=0, split="train"))
    return gym.make(env_id, **kwargs)


def test_registry_lists_every_depth_time_id():
    registered = {env_id for env_id in gym.registry if env_id.startswith("SPARQDepthTime")}
    assert registered == set(ALL_IDS)
    assert depth_time_env_ids() == [
        "SPARQDepthTime-MLP-v0",
        "SPARQDepthTime-LeNet-v0",
        "SPARQDepthTime-AlexNet-v0",
    ]
    for env_id in registered:
        spec = gym.spec(env_id)
        assert spec.entry_point == "sparq_gym.envs.depth_time_env:SPARQDepthTimeEnv"
        assert spec.vector_entry_point == "sparq_gym.envs.depth_time_vector_env:SPARQDepthTimeVectorEnv"


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_gymnasium_check_env(env_id, obs_type, user_trace_dir):
    from gymnasium.utils.env_checker import check_env

    env = _make(env_id, user_trace_dir, obs_type=obs_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_sb3_check_env(env_id, obs_type, user_trace_dir):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = _make(env_id, user_trace_dir, obs_type=obs_type)
    # SB3's checker steps with action_space.sample(); a masked action raises by contract, so the
    # sampler draws from the current mask (what MaskablePPO does).
    space = env.action_space
    space.sample = lambda mask=None, probability=None: gym.spaces.Discrete.sample(
        space, mask=env.unwrapped.action_masks().astype(np.int8)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(env, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_rollout_is_deterministic(env_id, user_trace_dir):
    def rollout():
        env = _make(env_id, user_trace_dir)
        obs, info = env.reset(seed=11)
        rng = np.random.default_rng(11)
        trace = [obs.tolist()]
        for _ in range(200):
            mask = env.unwrapped.action_masks()
            assert mask.tolist() == info["action_mask"].tolist()
            action = int(rng.choice(np.flatnonzero(mask)))
            obs, reward, terminated, truncated, info = env.step(action)
            trace.append((obs.tolist(), reward, terminated))
            if terminated or truncated:
                obs, info = env.reset()
                trace.append(obs.tolist())
        return trace

    assert rollout() == rollout()


@pytest.mark.parametrize("entry", DEPTH_TIME_TABLE, ids=lambda e: e.env_id)
def test_missing_pretrained_names_directory_and_command(entry, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        gym.make(entry.env_id)
    message = str(err.value)
    assert str(tmp_path / entry.backbone / "qdsnn_time") in message
    assert f"sparq backbone pipeline {entry.backbone}" in message


def test_make_vec_uses_native_vector_env():
    from sparq_gym.envs.depth_time_vector_env import SPARQDepthTimeVectorEnv

    traces = make_synthetic_time_traces(100, seed=0, split="train")
    env = gym.make_vec(
        DEPTH_TIME_GENERIC_ENV_ID, num_envs=5, vectorization_mode="vector_entry_point", traces=traces
    )
    assert isinstance(env.unwrapped, SPARQDepthTimeVectorEnv)
    obs, info = env.reset(seed=0)
    assert obs.shape == (5, 3) and info["action_mask"].shape == (5, 3)
    single = SPARQDepthTimeEnv(traces=traces)
    for i in range(5):
        assert info["sample_index"][i] == single.reset(seed=i)[1]["sample_index"]
