"""SPARQExitEnv: hand-worked rewards, observations, determinism and errors."""

from __future__ import annotations

import doctest

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import sparq_gym.envs.exit_env as exit_env_module
from sparq_gym.envs import Action, InvalidActionError, SPARQExitEnv
from sparq_gym.envs.core import confidence_bins

ALPHA = 0.3
# Hand-made traces (tests/conftest.py): cost total_ops = synaptic_ops + lif_ops
# = 2 x {100, 300, 900} per exit and 2 x 800 for the plain network.
SAVINGS = [1 - 200 / 1600, 1 - 600 / 1600, 1 - 1800 / 1600]  # 0.875, 0.625, -0.125


def _env(traces, **kwargs):
    kwargs.setdefault("alpha", ALPHA)
    return SPARQExitEnv(traces=traces, **kwargs)


def test_exit_correct(tiny_traces):
    env = _env(tiny_traces)
    obs, info = env.reset(options={"sample_index": 0})
    assert obs.tolist() == [0, 5] and info == {"sample_index": 0}
    _, reward, terminated, truncated, info = env.step(Action.EXIT)
    assert reward == pytest.approx(1 + 0.3 * 0.875)  # 1.2625
    assert terminated and not truncated
    assert info["exit"] == 0 and info["correct"] and info["prediction"] == 0 and info["label"] == 0
    assert info["savings"] == pytest.approx(SAVINGS[0])
    assert info["cost"] == 200
    assert info["confidence"] == 0.5
    assert info["counters"] == {
        "macs": 100,
        "synaptic_ops": 100,
        "spikes": 10,
        "lif_ops": 100,
        "mem_bytes": 1000,
    }


def test_exit_wrong(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 1})
    _, reward, terminated, _, info = env.step(Action.EXIT)
    assert reward == -1.0 and terminated
    assert info["prediction"] == 1 and info["label"] == 2 and not info["correct"]


def test_continue_gives_zero_then_next_exit(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 0})
    obs, reward, terminated, truncated, info = env.step(Action.CONTINUE)
    assert reward == 0.0 and not terminated and not truncated and info == {}
    assert obs.tolist() == [1, 7]  # exit 2, confidence 0.75 -> bin 7
    _, reward, terminated, _, info = env.step(Action.EXIT)
    assert reward == -1.0 and terminated and info["exit"] == 1  # exit 2 predicts 1, label 0


def test_continue_at_last_early_exit_uses_final_head(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 0})
    env.step(Action.CONTINUE)
    _, reward, terminated, _, info = env.step(Action.CONTINUE)
    # final head right; the path through both heads costs more than the plain network
    assert terminated and info["exit"] == 2 and info["correct"]
    assert info["savings"] == pytest.approx(-0.125)
    assert reward == pytest.approx(1 + 0.3 * -0.125)  # 0.9625


def test_exit_at_second_exit_correct(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 1})
    env.step(Action.CONTINUE)
    _, reward, _, _, info = env.step(Action.EXIT)
    assert info["correct"] and reward == pytest.approx(1 + 0.3 * 0.625)  # 1.1875


def test_savings_under_another_cost(tiny_traces):
    env = _env(tiny_traces, cost="spikes")
    env.reset(options={"sample_index": 0})
    _, reward, _, _, info = env.step(Action.EXIT)
    assert info["savings"] == pytest.approx(1 - 10 / 40)
    assert reward == pytest.approx(1 + 0.3 * 0.75)
    env = _env(tiny_traces, cost="mem_bytes", alpha=1.0)
    env.reset(options={"sample_index": 0})
    env.step(Action.CONTINUE)
    _, reward, _, _, info = env.step(Action.CONTINUE)
    assert info["savings"] == pytest.approx(1 - 5000 / 4000)
    assert reward == pytest.approx(1 - 0.25)


def test_total_ops_of_an_ann_is_macs(tiny_traces):
    arrays = tiny_traces.arrays()
    for name in ("exit_counts", "full_counts"):
        arrays[name] = arrays[name].copy()
        arrays[name][..., [1, 2, 3]] = 0  # no synaptic ops, spikes or LIF ops: an ANN
    arrays["exit_counts"][:, :, 0] = [100, 500, 1000]
    traces = type(tiny_traces)(**arrays, meta=tiny_traces.meta, split="train")
    env = _env(traces)
    env.reset(options={"sample_index": 0})
    _, reward, _, _, info = env.step(Action.EXIT)
    assert info["cost"] == 100 and info["savings"] == pytest.approx(1 - 100 / 800)
    assert reward == pytest.approx(1 + 0.3 * (1 - 100 / 800))


def test_alpha_zero_removes_savings(tiny_traces):
    env = SPARQExitEnv(traces=tiny_traces, alpha=0.0)
    env.reset(options={"sample_index": 0})
    assert env.step(Action.EXIT)[1] == 1.0


def test_bin_edges():
    assert confidence_bins(np.array([0.0, 0.05, 0.1, 0.5, 0.999, 1.0]), 10).tolist() == [
        0,
        0,
        1,
        5,
        9,
        9,
    ]
    assert confidence_bins(np.array([1.0]), 1).tolist() == [0]
    assert confidence_bins(np.array([0.5, 1.0]), 4).tolist() == [2, 3]


def test_confidence_one_lands_in_last_bin(tiny_traces):
    arrays = tiny_traces.arrays()
    arrays["probs"] = arrays["probs"].copy()
    arrays["probs"][0, 0] = [1.0, 0.0, 0.0]
    traces = type(tiny_traces)(**arrays, meta=tiny_traces.meta, split="train")
    for n_bins, expected in ((10, [0, 9]), (3, [0, 2])):
        env = _env(traces, n_bins=n_bins)
        obs, _ = env.reset(options={"sample_index": 0})
        assert obs.tolist() == expected
        assert env.observation_space.contains(obs)


def test_discrete_observation(tiny_traces):
    env = _env(tiny_traces, obs_type="discrete")
    assert env.observation_space == gym.spaces.Discrete(20)
    obs, _ = env.reset(options={"sample_index": 1})
    assert obs == 0 * 10 + 5
    obs, *_ = env.step(Action.CONTINUE)
    assert obs == 1 * 10 + 8  # confidence 0.875 -> bin 8


def test_box_observation(tiny_traces):
    env = _env(tiny_traces, obs_type="box")
    obs, _ = env.reset(options={"sample_index": 0})
    assert obs.dtype == np.float32 and obs.shape == (5,)
    p = np.array([0.5, 0.25, 0.25])
    entropy = -(p * np.log(p)).sum() / np.log(3)
    np.testing.assert_allclose(obs, [0.5, entropy, 0.25, 1.0, 0.0], rtol=1e-6)
    assert env.observation_space.contains(obs)


def test_observations_are_fresh_copies(tiny_traces):
    env = _env(tiny_traces)
    obs, _ = env.reset(options={"sample_index": 0})
    obs[1] = 0
    again, _ = env.reset(options={"sample_index": 0})
    assert again.tolist() == [0, 5]


@pytest.mark.parametrize("obs_type", ["multidiscrete", "box"])
def test_drawn_episodes_return_their_own_observations(synthetic_traces, obs_type):
    """Plain resets hand out rows of one gather per block of draws: every observation of an
    episode is its own memory (a caller may keep or modify it) and holds the table's value."""
    env = _env(synthetic_traces, obs_type=obs_type)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(1500):  # past one block of 1,024 draws
        obs, info = env.reset()
        sample, k, seen = info["sample_index"], 0, [obs]
        np.testing.assert_array_equal(obs, env.tables.observation[sample, 0])
        terminated = False
        while not terminated:
            obs, _, terminated, _, _ = env.step(int(rng.integers(2)))
            k += 0 if terminated else 1
            np.testing.assert_array_equal(obs, env.tables.observation[sample, k])
            seen.append(obs)
        for i, first in enumerate(seen):
            assert not any(np.shares_memory(first, other) for other in seen[i + 1 :])
        seen[0][...] = 7  # the caller's own copy
    assert not (env.reset(options={"sample_index": 0})[0] == 7).all()


def test_same_seed_same_rollout(synthetic_traces):
    def rollout(seed):
        env = _env(synthetic_traces)
        env.reset(seed=seed)
        env.action_space.seed(seed)
        record = []
        for _ in range(300):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            record.append((obs.tolist(), reward, terminated, info.get("sample_index")))
            if terminated or truncated:
                obs, info = env.reset()
                record.append((obs.tolist(), info["sample_index"]))
        return record

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_reset_draws_uniformly(synthetic_traces):
    env = _env(synthetic_traces)
    env.reset(seed=0)
    draws = np.array([env.reset()[1]["sample_index"] for _ in range(20000)])
    assert draws.min() >= 0 and draws.max() < 500
    counts = np.bincount(draws, minlength=500)
    assert counts.std() / counts.mean() < 0.2  # uniform: 40 +- 6.3 per sample


@pytest.mark.parametrize(
    "action",
    [2, -1, 0.5, 1.0, np.float64(0.0), np.array([1]), np.array([0, 1]), "exit", None, np.bool_(True)],
)
def test_invalid_action(tiny_traces, action):
    env = _env(tiny_traces)
    env.reset()
    with pytest.raises(InvalidActionError, match=r"0 \(CONTINUE\) or 1 \(EXIT\)"):
        env.step(action)


def test_numpy_actions_accepted(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 0})
    assert env.step(np.int64(1))[2]
    env.reset(options={"sample_index": 0})
    assert env.step(np.array(1))[2]


def test_step_before_reset_and_after_end(tiny_traces):
    env = _env(tiny_traces)
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset()
    env.step(Action.EXIT)
    with pytest.raises(ResetNeeded):
        env.step(Action.EXIT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"obs_type": "image"}, "obs_type must be one of"),
        ({"cost": "watts"}, "cost must be one of .* got 'watts'"),
        ({"n_bins": 0}, r"n_bins must be an integer in \[1, 1000\], got 0"),
        ({"n_bins": 2**63}, r"n_bins must be an integer in \[1, 1000\]"),
        ({"alpha": -0.1}, "alpha must be a finite number >= 0, got -0.1"),
        ({"alpha": float("nan")}, "alpha must be a finite number"),
        ({"render_mode": "human"}, "render_mode must be None or one of"),
    ],
)
def test_unknown_kwarg_values(tiny_traces, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _env(tiny_traces, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"network": "resnet"}, "network must be one of"),
        ({"split": "validation"}, "split must be one of"),
    ],
)
def test_unknown_network_or_split(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SPARQExitEnv("alexnet", **kwargs)


def test_bad_sample_index(tiny_traces):
    env = _env(tiny_traces)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        env.reset(options={"sample_index": 2})
    with pytest.raises(ValueError, match="must be an integer"):
        env.reset(options={"sample_index": 1.0})


def test_missing_trace_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json"):
        SPARQExitEnv(trace_dir=tmp_path / "nowhere")


def test_trace_dir_round_trip(tmp_path, synthetic_traces):
    synthetic_traces.save(tmp_path)
    env = gym.make("SPARQExit-v0", trace_dir=tmp_path, split="train")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.unwrapped.traces.n_samples == 500


def test_render_ansi(tiny_traces):
    env = _env(tiny_traces, render_mode="ansi")
    env.reset(options={"sample_index": 0})
    assert env.render() == "sample 0: at exit 0, confidence 0.500 (bin 5 of 10), cost so far 200"
    env.step(Action.EXIT)
    assert env.render() == "sample 0: ended at exit 0 predicting 0 (label 0, right), cost 200, savings 0.875"


def test_docstring_example_runs():
    results = doctest.testmod(exit_env_module, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 4 and results.failed == 0


def test_energy_cost_savings_by_hand(tiny_traces):
    # sparq model, pJ: macs x 4.6 + synaptic x 0.03 + lif/2 x (0.9 + 0.1) + mem_bytes x 80
    exit1 = 100 * 4.6 + 100 * 0.03 + 50 * 1.0 + 1000 * 80  # 80,513 pJ
    full = 800 * 4.6 + 800 * 0.03 + 400 * 1.0 + 4000 * 80  # 324,104 pJ
    env = _env(tiny_traces, cost="energy:sparq")
    env.reset(options={"sample_index": 0})
    _, reward, _, _, info = env.step(Action.EXIT)
    assert info["cost"] == pytest.approx(exit1 * 1e-12)
    assert info["savings"] == pytest.approx(1 - exit1 / full)
    assert reward == pytest.approx(1 + 0.3 * (1 - exit1 / full))


def test_unknown_energy_model_is_named(tiny_traces):
    with pytest.raises(ValueError, match="energy"):
        _env(tiny_traces, cost="energy:nonsense")


def test_info_is_a_fresh_dict_every_time(tiny_traces):
    env = _env(tiny_traces)
    env.reset(options={"sample_index": 0})
    info = env.step(Action.EXIT)[4]
    info["label"] = 99
    info["counters"]["macs"] = -1
    env.reset(options={"sample_index": 0})
    again = env.step(Action.EXIT)[4]
    assert again["label"] == 0 and again["counters"]["macs"] == 100


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"backbone must be one of \['mlp', 'lenet', 'alexnet'\]"):
        SPARQExitEnv("resnet")


def test_split_comes_from_the_given_traces(tiny_traces):
    env = _env(tiny_traces)
    assert env.split == "train" and env.backbone == "hand" and env.network == "qdsnn"
    with pytest.raises(ValueError, match="conflicts with the given traces"):
        _env(tiny_traces, split="test")


def test_replacing_np_random_takes_effect(synthetic_traces):
    env = _env(synthetic_traces)
    env.reset(seed=0)
    env.np_random = np.random.default_rng(123)
    first = [env.reset()[1]["sample_index"] for _ in range(5)]
    env.np_random = np.random.default_rng(123)
    assert [env.reset()[1]["sample_index"] for _ in range(5)] == first
