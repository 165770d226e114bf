"""The native vector envs (both families) give the same transitions as SyncVectorEnv over single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from env_checks import FAMILIES, assert_info_equal
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from sparq_gym.envs import InvalidActionError, SPARQExitEnv
from sparq_gym.envs.vector_env import SPARQExitVectorEnv
from sparq_gym.traces import make_synthetic_traces

N_ENVS = 7
MID_RUN_RESETS = {100: {}, 150: {"options": {"sample_index": 3}}, 151: {}, 200: {"seed": 9}}
"""Resets in the middle of the equivalence run: plain, on a given sample, then plain, then seeded."""


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("obs_type", ["multidiscrete", "discrete", "box"])
def test_same_transitions_as_sync_vector_env(family, mode, obs_type):
    traces = family.make_traces(200, seed=5, split="train")
    kwargs = {"traces": traces, "obs_type": obs_type, "alpha": 0.5}
    reference = SyncVectorEnv(
        [lambda: family.env_class(**kwargs) for _ in range(N_ENVS)], autoreset_mode=mode
    )
    native = family.vector_class(N_ENVS, autoreset_mode=mode, **kwargs)
    assert native.observation_space == reference.observation_space
    assert native.action_space == reference.action_space
    assert native.metadata["autoreset_mode"] == mode

    obs_ref, info_ref = reference.reset(seed=42)
    obs_nat, info_nat = native.reset(seed=42)
    np.testing.assert_array_equal(obs_nat, obs_ref)
    assert_info_equal(info_nat, info_ref)
    rng = np.random.default_rng(0)
    for step in range(300):
        if step in MID_RUN_RESETS:
            # With episodes just ended (NEXT_STEP: their next start is drawn), a plain reset
            # and a reset on a given sample draw what the single environments draw.
            kwargs_reset = MID_RUN_RESETS[step]
            obs_ref, info_ref = reference.reset(**kwargs_reset)
            obs_nat, info_nat = native.reset(**kwargs_reset)
            np.testing.assert_array_equal(obs_nat, obs_ref, err_msg=f"reset at step {step}")
            assert_info_equal(info_nat, info_ref, f"reset at step {step}")
        if family.masked:
            np.testing.assert_array_equal(native.action_masks(), np.stack(reference.call("action_masks")))
        action = family.actions(rng, native)
        out_ref = reference.step(action)
        out_nat = native.step(action)
        for name, a, b in zip(
            ("obs", "reward", "terminated", "truncated"), out_nat[:4], out_ref[:4]
        ):
            np.testing.assert_array_equal(a, b, err_msg=f"step {step}: {name}")
        assert_info_equal(out_nat[4], out_ref[4], f"step {step} info")


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_same_starts_across_draw_blocks(family, mode):
    """Slots draw their starts in blocks of SAMPLE_BLOCK (1,024) from their own generators and
    top up ahead of need: over three blocks of episodes (and a plain and a seeded reset past
    the first block) every start is the one a single environment draws."""
    traces = family.make_traces(50, seed=3, split="train")
    reference = SyncVectorEnv(
        [lambda: family.env_class(traces=traces) for _ in range(2)], autoreset_mode=mode
    )
    native = family.vector_class(2, traces=traces, autoreset_mode=mode)
    reference.reset(seed=7)
    native.reset(seed=7)
    rng = np.random.default_rng(1)
    for step in range(7000):
        if step in (3000, 5000):
            kwargs = {} if step == 3000 else {"seed": 11}
            np.testing.assert_array_equal(native.reset(**kwargs)[0], reference.reset(**kwargs)[0])
        action = family.actions(rng, native)
        out_nat, out_ref = native.step(action), reference.step(action)
        np.testing.assert_array_equal(out_nat[0], out_ref[0], err_msg=f"step {step}: obs")
        np.testing.assert_array_equal(out_nat[1], out_ref[1], err_msg=f"step {step}: reward")


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.uint64])
def test_any_integer_action_dtype(dtype):
    traces = make_synthetic_traces(20, seed=0)
    native = SPARQExitVectorEnv(3, traces=traces)
    single = [SPARQExitEnv(traces=traces) for _ in range(3)]
    native.reset(seed=5)
    for i, env in enumerate(single):
        env.reset(seed=5 + i)
    _, reward, terminated, _, _ = native.step(np.array([1, 0, 1], dtype=dtype))
    for i, (env, action) in enumerate(zip(single, (1, 0, 1))):
        _, r, term, _, _ = env.step(action)
        assert reward[i] == r and terminated[i] == term


def test_seed_list_seeds_each_slot():
    traces = make_synthetic_traces(500, seed=0, split="train")
    native = SPARQExitVectorEnv(3, traces=traces)
    _, info = native.reset(seed=[7, None, 9])
    expected = [SPARQExitEnv(traces=traces).reset(seed=s)[1]["sample_index"] for s in (7, 9)]
    assert [info["sample_index"][0], info["sample_index"][2]] == expected
    with pytest.raises(ValueError, match="3 integers"):
        native.reset(options={"sample_index": [1, 2]})


def test_reset_with_seed_list_and_sample_index():
    traces = make_synthetic_traces(50, seed=0, split="train")
    native = SPARQExitVectorEnv(3, traces=traces)
    obs, info = native.reset(seed=[1, 2, 3], options={"sample_index": [4, 5, 6]})
    assert info["sample_index"].tolist() == [4, 5, 6]
    single = SPARQExitEnv(traces=traces)
    for i, index in enumerate([4, 5, 6]):
        np.testing.assert_array_equal(obs[i], single.reset(options={"sample_index": index})[0])


def test_rewards_match_single_env_per_sample():
    traces = make_synthetic_traces(64, seed=2, split="train")
    native = SPARQExitVectorEnv(64, traces=traces, autoreset_mode="SameStep")
    native.reset(options={"sample_index": np.arange(64)})
    _, reward, terminated, _, info = native.step(np.ones(64, dtype=np.int64))
    assert terminated.all()
    single = SPARQExitEnv(traces=traces)
    for i in range(64):
        single.reset(options={"sample_index": i})
        assert reward[i] == single.step(1)[1]
    assert info["final_info"]["sample_index"].tolist() == list(range(64))


@pytest.mark.parametrize(
    "bad", [np.array([0, 2, 1]), np.array([0, -1, 1]), np.array([0, 1]), np.array([0.0, 1.0, 1.0])]
)
def test_invalid_actions(bad):
    native = SPARQExitVectorEnv(3, traces=make_synthetic_traces(10, seed=0))
    native.reset(seed=0)
    with pytest.raises(InvalidActionError):
        native.step(bad)


def test_declares_autoreset_mode():
    env = gym.make_vec(
        "SPARQExit-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        traces=make_synthetic_traces(10, seed=0),
    )
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP


def test_reset_after_reading_an_info_and_modifying_terminated():
    """The info's masks are read-only and the returned arrays are the caller's: neither may
    reach the environment's own state."""
    native = SPARQExitVectorEnv(4, traces=make_synthetic_traces(50, seed=0))
    native.reset(seed=0)
    _, _, terminated, _, info = native.step(np.ones(4, dtype=np.int64))
    assert terminated.all() and dict(info)["_exit"].all()
    terminated[:] = False  # the next step must still autoreset every slot
    _, reward, terminated, _, _ = native.step(np.ones(4, dtype=np.int64))
    assert (reward == 0).all() and not terminated.any()
    native.reset(seed=1)
    assert native.step(np.ones(4, dtype=np.int64))[2].all()
