"""The native depth x time vector env gives the same transitions as SyncVectorEnv over single envs."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv
from sparq_gym.envs.depth_time_vector_env import SPARQDepthTimeVectorEnv
from sparq_gym.envs.exit_env import InvalidActionError
from sparq_gym.traces.timeset import make_synthetic_time_traces

N_ENVS = 6


def _assert_info_equal(native: dict, reference: dict, path: str = "info") -> None:
    assert set(native) == set(reference), f"{path}: keys {sorted(native)} != {sorted(reference)}"
    for key, expected in reference.items():
        actual = native[key]
        if isinstance(expected, dict):
            _assert_info_equal(actual, expected, f"{path}[{key!r}]")
        elif key == "final_obs":
            mask = reference["_final_obs"]
            np.testing.assert_array_equal(actual[mask], np.stack(list(expected[mask])), err_msg=path)
        else:
            assert actual.dtype == expected.dtype, f"{path}[{key!r}]: {actual.dtype} != {expected.dtype}"
            np.testing.assert_array_equal(actual, expected, err_msg=f"{path}[{key!r}]")


def _valid_actions(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One random valid action per row of ``masks``."""
    scores = rng.random(masks.shape) + masks * 2.0
    return scores.argmax(axis=1)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_same_transitions_as_sync_vector_env(mode, obs_type):
    traces = make_synthetic_time_traces(150, seed=5, split="train")
    kwargs = {"traces": traces, "obs_type": obs_type, "alpha": 0.5}
    reference = SyncVectorEnv(
        [lambda: SPARQDepthTimeEnv(**kwargs) for _ in range(N_ENVS)], autoreset_mode=mode
    )
    native = SPARQDepthTimeVectorEnv(N_ENVS, autoreset_mode=mode, **kwargs)
    assert native.observation_space == reference.observation_space
    assert native.action_space == reference.action_space
    obs_ref, info_ref = reference.reset(seed=42)
    obs_nat, info_nat = native.reset(seed=42)
    np.testing.assert_array_equal(obs_nat, obs_ref)
    _assert_info_equal(info_nat, info_ref)
    rng = np.random.default_rng(0)
    for step in range(300):
        masks = native.action_masks()
        np.testing.assert_array_equal(masks, np.stack(reference.call("action_masks")))
        action = _valid_actions(rng, masks)
        out_ref = reference.step(action)
        out_nat = native.step(action)
        for name, a, b in zip(("obs", "reward", "terminated", "truncated"), out_nat[:4], out_ref[:4]):
            np.testing.assert_array_equal(a, b, err_msg=f"step {step}: {name}")
        _assert_info_equal(out_nat[4], out_ref[4], f"step {step} info")


def test_masked_action_raises_and_sample_option():
    traces = make_synthetic_time_traces(30, seed=0)
    native = SPARQDepthTimeVectorEnv(2, traces=traces)
    native.reset(seed=0, options={"sample_index": [3, 4]})
    for _ in range(traces.n_timesteps - 1):
        native.step(np.array([2, 2]))
    with pytest.raises(InvalidActionError, match="masked"):
        native.step(np.array([2, 1]))
    with pytest.raises(InvalidActionError):
        native.step(np.array([3, 1]))
    _, reward, terminated, _, info = native.step(np.array([1, 1]))
    assert ((reward == -1) | (reward > 1)).all()
    assert terminated.all() and info["timesteps"].tolist() == [traces.n_timesteps] * 2
    assert info["sample_index"].tolist() == [3, 4]
