"""Every registered SPARQ id passes the Gymnasium and SB3 checkers and behaves the same."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401  (registers the ids)
from sparq_gym.envs.registration import ENV_TABLE, GENERIC_ENV_ID, sparq_env_ids
from sparq_gym.paths import trace_dir
from sparq_gym.traces import make_synthetic_traces

ALL_IDS = [*sparq_env_ids(), GENERIC_ENV_ID]


@pytest.fixture(scope="module")
def user_trace_dir(tmp_path_factory):
    """A user's own trace directory, for the generic id."""
    directory = tmp_path_factory.mktemp("user_traces")
    make_synthetic_traces(300, seed=3, split="train").save(directory)
    return directory


def _make(env_id: str, user_dir=None, **kwargs):
    """The env with its shipped traces, or synthetic ones until the pipeline ships them."""
    if env_id == GENERIC_ENV_ID:
        return gym.make(env_id, trace_dir=user_dir, **kwargs)
    backbone = next(e.backbone for e in ENV_TABLE if e.env_id == env_id)
    if not (trace_dir(backbone) / "manifest.json").exists():
        kwargs.setdefault("traces", make_synthetic_traces(300, seed=0, split="train"))
    return gym.make(env_id, **kwargs)


def test_registry_lists_every_backbone():
    registered = {env_id for env_id in gym.registry if env_id.startswith("SPARQExit")}
    assert registered == set(ALL_IDS)
    assert sparq_env_ids() == ["SPARQExit-MLP-v0", "SPARQExit-LeNet-v0", "SPARQExit-AlexNet-v0"]
    for env_id in registered:
        assert gym.spec(env_id).vector_entry_point == "sparq_gym.envs.vector_env:SPARQExitVectorEnv"


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
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(env, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_rollout_is_deterministic(env_id, user_trace_dir):
    def rollout():
        env = _make(env_id, user_trace_dir)
        obs, _ = env.reset(seed=11)
        actions = np.random.default_rng(11).integers(2, size=200)
        trace = [obs.tolist()]
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(int(action))
            trace.append((obs.tolist(), reward, terminated))
            if terminated or truncated:
                obs, _ = env.reset()
                trace.append(obs.tolist())
        return trace

    assert rollout() == rollout()


@pytest.mark.parametrize("entry", ENV_TABLE, ids=lambda e: e.env_id)
def test_missing_pretrained_names_artifact_and_command(entry, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        gym.make(entry.env_id)
    message = str(err.value)
    assert str(tmp_path / entry.backbone / "qdsnn" / "manifest.json") in message
    assert f"sparq backbone pipeline {entry.backbone}" in message


def test_make_vec_uses_native_vector_env():
    from sparq_gym.envs import SPARQExitEnv
    from sparq_gym.envs.vector_env import SPARQExitVectorEnv

    traces = make_synthetic_traces(100, seed=0, split="train")
    env = gym.make_vec(
        "SPARQExit-v0", num_envs=8, vectorization_mode="vector_entry_point", traces=traces
    )
    assert isinstance(env.unwrapped, SPARQExitVectorEnv)
    assert env.unwrapped.traces is traces and env.unwrapped.num_envs == 8
    obs, info = env.reset(seed=0)
    assert obs.shape == (8, 2)
    single = SPARQExitEnv(traces=traces)
    for i in range(8):
        assert info["sample_index"][i] == single.reset(seed=i)[1]["sample_index"]
