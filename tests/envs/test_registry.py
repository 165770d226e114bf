"""Every registered id of both families passes the Gymnasium and SB3 checkers and behaves the same."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from env_checks import FAMILIES, family_of

import sparq_gym  # noqa: F401  (registers the ids)

ALL_IDS = [env_id for family in FAMILIES for env_id in family.ids]
ENTRIES = [(family, entry) for family in FAMILIES for entry in family.table]


@pytest.fixture(scope="module")
def user_trace_dirs(tmp_path_factory):
    """A user's own trace directory per family, for the generic ids."""
    directories = {}
    for family in FAMILIES:
        directory = tmp_path_factory.mktemp(f"user_traces_{family.name}")
        family.make_traces(200, seed=3, split="train").save(directory)
        directories[family.name] = directory
    return directories


def _make(env_id: str, user_dirs=None, **kwargs):
    """The env with its shipped traces, or synthetic ones until the pipeline ships them."""
    family = family_of(env_id)
    if env_id == family.generic_id:
        return gym.make(env_id, trace_dir=user_dirs[family.name], **kwargs)
    backbone = next(e.backbone for e in family.table if e.env_id == env_id)
    if not (family.shipped_dir(backbone) / "manifest.json").exists():
        kwargs.setdefault("traces", family.make_traces(200, seed=0, split="train"))
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_registry_lists_every_backbone(family):
    registered = {env_id for env_id in gym.registry if env_id.startswith(family.prefix)}
    assert registered == set(family.ids)
    assert [e.env_id for e in family.table] == [
        f"{family.prefix}-MLP-v0", f"{family.prefix}-LeNet-v0", f"{family.prefix}-AlexNet-v0"
    ]
    for env_id in registered:
        spec = gym.spec(env_id)
        assert (spec.entry_point, spec.vector_entry_point) == family.entry_points


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_gymnasium_check_env(env_id, obs_type, user_trace_dirs):
    from gymnasium.utils.env_checker import check_env

    env = _make(env_id, user_trace_dirs, obs_type=obs_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_sb3_check_env(env_id, obs_type, user_trace_dirs):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = _make(env_id, user_trace_dirs, obs_type=obs_type)
    # Unpatched: SB3's checker steps with action_space.sample(), masked actions included (spec
    # §9: taken as EXIT). Twenty runs, each from a fresh seed of the action space.
    for seed in range(20):
        env.action_space.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sb3_checker.check_env(env, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_rollout_is_deterministic(env_id, user_trace_dirs):
    family = family_of(env_id)

    def rollout():
        env = _make(env_id, user_trace_dirs)
        obs, info = env.reset(seed=11)
        rng = np.random.default_rng(11)
        trace = [obs.tolist()]
        for _ in range(200):
            if family.masked:
                assert env.unwrapped.action_masks().tolist() == info["action_mask"].tolist()
            obs, reward, terminated, truncated, info = env.step(family.actions(rng, env))
            trace.append((obs.tolist(), reward, terminated))
            if terminated or truncated:
                obs, info = env.reset()
                trace.append(obs.tolist())
        return trace

    assert rollout() == rollout()


@pytest.mark.parametrize(("family", "entry"), ENTRIES, ids=lambda e: getattr(e, "env_id", ""))
def test_missing_pretrained_names_artifact_and_command(family, entry, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        gym.make(entry.env_id)
    message = str(err.value)
    assert str(family.shipped_dir(entry.backbone)) in message
    assert f"sparq backbone pipeline {entry.backbone}" in message


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_make_vec_uses_native_vector_env(family):
    traces = family.make_traces(100, seed=0, split="train")
    env = gym.make_vec(
        family.generic_id, num_envs=6, vectorization_mode="vector_entry_point", traces=traces
    )
    assert isinstance(env.unwrapped, family.vector_class)
    assert env.unwrapped.traces is traces and env.unwrapped.num_envs == 6
    obs, info = env.reset(seed=0)
    single = family.env_class(traces=traces)
    assert obs.shape == (6, *single.observation_space.shape)
    if family.masked:
        assert info["action_mask"].shape == (6, 3)
    for i in range(6):
        assert info["sample_index"][i] == single.reset(seed=i)[1]["sample_index"]
