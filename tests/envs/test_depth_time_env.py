"""The single depth x time env: hand-worked costs and rewards, masks, observations and v0 consistency."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sparq_gym.envs.depth_time_core import DepthTimeAction, enumerate_states
from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv
from sparq_gym.envs.exit_env import InvalidActionError, SPARQExitEnv
from sparq_gym.errors import SettingsError
from sparq_gym.traces import COUNTER_NAMES
from sparq_gym.traces.timeset import TimeTraceSet, make_synthetic_time_traces

C, E, W = DepthTimeAction.CONTINUE, DepthTimeAction.EXIT, DepthTimeAction.WAIT


def hand_time_traces() -> TimeTraceSet:
    """One sample (label 1), two heads, two timesteps, two classes; every counter alike.

    Blocks to head 0: 100 per timestep; head 0: 10 per timestep; blocks to the final head
    (the plain network): 400 per timestep, so C_full = 800.
    Head 0 says 1 (right) with 0.75 at t = 1 and 0 (wrong) with 0.625 at t = 2;
    the final head says 1 with 0.5625 at t = 1 and 0.875 at t = 2.
    """
    probs = np.array([[[[0.25, 0.75], [0.625, 0.375]], [[0.4375, 0.5625], [0.125, 0.875]]]], np.float16)
    k = len(COUNTER_NAMES)
    block = np.array([[[100, 200], [400, 800]]], np.int64)[..., None].repeat(k, axis=3)
    head = np.array([[[10, 20], [0, 0]]], np.int64)[..., None].repeat(k, axis=3)
    return TimeTraceSet(
        labels=np.array([1], np.uint8),
        probs=probs,
        block_counts=block,
        head_counts=head,
        full_counts=block[:, -1, -1].copy(),
        sample_ids=np.array([0], np.int32),
        meta={"format": "depth_time", "timesteps": 2},
        split="train",
    )


def _play(env, actions):
    env.reset(options={"sample_index": 0})
    for action in actions:
        _, reward, terminated, _, info = env.step(action)
    assert terminated
    return reward, info


@pytest.mark.parametrize(
    ("actions", "cost", "correct"),
    [
        ([E], 100 + 10, True),  # head 0 at t = 1
        ([W, E], 200 + 20, False),  # head 0 at t = 2 (wrong)
        ([C, E], 400 + 10, True),  # final at t = 1, head 0 paid for 1 step
        ([C, W, E], 800 + 10, True),  # final at t = 2, head 0 still paid for 1 step
        ([W, C, E], 800 + 20, True),  # final at t = 2, head 0 paid for 2 steps
    ],
)
def test_hand_worked_path_costs_and_rewards(actions, cost, correct):
    env = SPARQDepthTimeEnv(traces=hand_time_traces(), alpha=0.5, cost="synaptic_ops")
    reward, info = _play(env, actions)
    savings = 1 - cost / 800
    assert info["cost"] == cost and info["savings"] == pytest.approx(savings)
    assert info["correct"] is correct
    assert reward == pytest.approx(1 + 0.5 * savings if correct else -1.0)
    assert info["counters"] == dict.fromkeys(COUNTER_NAMES, cost)
    assert info["timesteps"] == (2 if W in actions else 1)
    assert set(info) == {
        "sample_index",
        "label",
        "exit",
        "timesteps",
        "prediction",
        "correct",
        "confidence",
        "cost",
        "savings",
        "counters",
        "action_mask",
        "invalid_action",
    }


def test_masked_action_is_taken_as_exit():
    traces = hand_time_traces()
    env = SPARQDepthTimeEnv(traces=traces)
    strict = SPARQDepthTimeEnv(traces=traces, invalid_action="raise")
    for sample in range(traces.n_samples):
        _, info = env.reset(options={"sample_index": sample})
        strict.reset(options={"sample_index": sample})
        for action in (C, W):  # to the final head after 2 timesteps: CONTINUE is masked there
            _, _, _, _, info = env.step(action)
            strict.step(action)
            assert info["invalid_action"] is False
        _, masked_reward, terminated, _, masked_info = env.step(C)
        _, exit_reward, _, _, exit_info = strict.step(E)
        assert terminated and masked_info["invalid_action"] is True and exit_info["invalid_action"] is False
        assert masked_reward == exit_reward
        assert {**masked_info, "invalid_action": False, "action_mask": None} == {
            **exit_info, "action_mask": None
        }
    with pytest.raises(SettingsError, match=r"invalid_action must be one of \['exit', 'raise'\], got 'x'"):
        SPARQDepthTimeEnv(traces=traces, invalid_action="x")


def test_masks_and_invalid_actions():
    env = SPARQDepthTimeEnv(traces=hand_time_traces(), invalid_action="raise")
    _, info = env.reset(options={"sample_index": 0})
    assert info["action_mask"].tolist() == [True, True, True] and info["action_mask"].dtype == np.bool_
    _, _, _, _, info = env.step(C)
    assert info["action_mask"].tolist() == [False, True, True] == env.action_masks().tolist()
    with pytest.raises(InvalidActionError, match="CONTINUE is masked"):
        env.step(C)
    _, _, _, _, info = env.step(W)
    assert info["action_mask"].tolist() == [False, True, False]  # (E-1, T): only EXIT
    with pytest.raises(InvalidActionError):
        env.step(W)
    with pytest.raises(InvalidActionError):
        env.step(3)
    with pytest.raises(InvalidActionError):
        env.step(1.0)


def test_observations_of_every_type():
    traces = make_synthetic_time_traces(50, seed=4)
    discrete = SPARQDepthTimeEnv(traces=traces, obs_type="discrete", n_bins=5)
    multi = SPARQDepthTimeEnv(traces=traces, n_bins=5)
    box = SPARQDepthTimeEnv(traces=traces, obs_type="box")
    for env in (discrete, multi, box):
        env.reset(options={"sample_index": 9})
        env.step(W)
    obs_m = multi.step(C)[0]
    obs_d = discrete.step(C)[0]
    obs_b = box.step(C)[0]
    k, tau, b = obs_m.tolist()
    assert (k, tau) == (1, 1) and obs_d == (k * 4 + tau) * 5 + b
    conf = traces.confidence()[9, 1]
    assert b == min(int(conf[1] * 5), 4)
    np.testing.assert_allclose(obs_b[:4], [conf[0], conf[1], 0, 0], atol=1e-6)
    assert obs_b[6:9].tolist() == [0, 1, 0] and obs_b[9] == pytest.approx(0.5)
    scale = 1 + 9 % 3 / 10
    expected_cost = (0.65 * 2 / 4 + 0.05 * 2 / 4 + 0.05 * 2 / 4) * scale / scale  # blocks to 1, heads 0 and 1
    assert obs_b[10] == pytest.approx(expected_cost, abs=1e-6)
    assert box.observation_space.contains(obs_b)


def test_states_count_histories():
    assert len(enumerate_states(3, 4)) == 4 + 10 + 20
    assert len(enumerate_states(2, 1)) == 2


@pytest.mark.parametrize("cost", ["total_ops", "synaptic_ops", "energy:sparq"])
def test_wait_to_t_then_v0_gives_v0_rewards(cost):
    """Spec §9's consistency: WAIT to T at head 0, then v0's CONTINUE/EXIT gives v0's reward."""
    traces = make_synthetic_time_traces(60, seed=7, split="train")
    time_env = SPARQDepthTimeEnv(traces=traces, cost=cost, alpha=0.4)
    v0_env = SPARQExitEnv(traces=traces.to_v0(), cost=cost, alpha=0.4)
    n_early = traces.n_exits - 1
    for sample, exit_at in itertools.product(range(traces.n_samples), range(n_early + 1)):
        v0_actions = [0] * exit_at + ([1] if exit_at < n_early else [])
        v0_env.reset(options={"sample_index": sample})
        for action in v0_actions:
            _, v0_reward, v0_done, _, v0_info = v0_env.step(action)
        assert v0_done
        time_env.reset(options={"sample_index": sample})
        for _ in range(traces.n_timesteps - 1):
            time_env.step(W)
        for action in [C] * exit_at + [E]:
            _, reward, done, _, info = time_env.step(action)
        assert done and reward == v0_reward
        assert info["counters"] == v0_info["counters"] and info["exit"] == v0_info["exit"]
        assert info["savings"] == v0_info["savings"] and info["correct"] == v0_info["correct"]


def test_docstring_example_runs():
    import doctest

    from sparq_gym.envs import depth_time_env

    results = doctest.testmod(depth_time_env, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 5 and results.failed == 0
    for section in (
        "## Description",
        "## Action Space",
        "## Observation Space",
        "## Rewards",
        "## Starting State",
        "## Episode End",
        "## Information",
        "## Arguments",
        "## Version History",
    ):
        assert section in (depth_time_env.SPARQDepthTimeEnv.__doc__ or "")


def test_maskable_ppo_reads_the_masks():
    """sb3-contrib's MaskablePPO trains and acts through ``action_masks()`` without a masked action."""
    sb3_contrib = pytest.importorskip("sb3_contrib")
    env = SPARQDepthTimeEnv(traces=make_synthetic_time_traces(100, seed=0, split="train"), obs_type="box")
    model = sb3_contrib.MaskablePPO(
        "MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=128)
    obs, _ = env.reset(seed=1)
    for _ in range(60):
        action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
        obs, reward, terminated, _, _ = env.step(int(action))
        assert reward == -1.0 or reward >= 0.0
        if terminated:
            obs, _ = env.reset()
