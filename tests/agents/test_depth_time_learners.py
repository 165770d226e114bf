"""The depth x time learners: tiny budgets on synthetic traces, checked against hand-worked values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.depth_time_learners import (
    MaskToExit,
    evaluate_on_env,
    make_env,
    run_learner,
    train_q_learning,
)
from agents.learners.q_learning import Args as QArgs
from sparq_gym.envs.depth_time_core import DepthTimeAction
from sparq_gym.traces.timeset import make_synthetic_time_traces

CONTINUE, EXIT, WAIT = (int(a) for a in DepthTimeAction)
GAMMA = 0.9


def _optimal_q(env: Any, prefix: list[int]) -> dict[int, float]:
    """Q*(s, a) with discount GAMMA at the point reached by ``prefix``, by replaying the env."""
    q: dict[int, float] = {}
    for a in range(3):
        _, info = env.reset(options={"sample_index": 0})
        for b in prefix:
            _, _, _, _, info = env.step(b)
        if not info["action_mask"][a]:
            continue
        _, reward, terminated, _, _ = env.step(a)
        q[a] = float(reward) if terminated else GAMMA * max(_optimal_q(env, [*prefix, a]).values())
    return q


# Q*(start, a) by hand for make_synthetic_time_traces(1, n_exits=2, n_timesteps=2, seed=s):
# head 0's blocks cost 0.3 t/T of the plain network, head 0 itself 0.05 t/T, the final
# head's blocks are the plain network; EXIT pays 1 + 0.3 * savings if right, -1 if wrong.
#   EXIT at (0, 1):           savings 1 - (0.15 + 0.025) = 0.825   -> 1.2475
#   WAIT, EXIT at (0, 2):     savings 1 - (0.3 + 0.05) = 0.65      -> 0.9 * 1.195 = 1.0755
#   CONTINUE, EXIT at (1, 1): savings 1 - (0.5 + 0.025) = 0.475    -> 0.9 * 1.1425 = 1.02825
#   CONTINUE, WAIT, EXIT (1, 2): savings 1 - (1 + 0.025) = -0.025  -> 0.81 * 0.9925 = 0.803925
#   WAIT, CONTINUE, EXIT (1, 2): savings 1 - (1 + 0.05) = -0.05    -> 0.81 * 0.985 = 0.79785
# Which heads are right is the draw of each seed (seed 1: head 0 right only after t = 2 and
# the final head only after t = 2; seed 3: head 0 right at t = 1, wrong at t = 2; seed 4:
# head 0 wrong at t = 1 and 2, the final head right), so the best first action differs.
HAND = {
    1: {CONTINUE: 0.803925, EXIT: -1.0, WAIT: 1.0755},
    3: {CONTINUE: 1.02825, EXIT: 1.2475, WAIT: 0.79785},
    4: {CONTINUE: 1.02825, EXIT: -1.0, WAIT: 0.79785},
}


@pytest.mark.parametrize(("seed", "best"), [(1, WAIT), (3, EXIT), (4, CONTINUE)])
def test_q_learning_one_sample_converges_to_the_best_discounted_action(seed: int, best: int) -> None:
    traces = make_synthetic_time_traces(1, n_exits=2, n_timesteps=2, seed=seed, split="train")
    env = make_env(None, "train", "multidiscrete", traces)
    assert _optimal_q(env, []) == pytest.approx(HAND[seed])  # the environment agrees with the hand
    tables: Any = env.unwrapped
    table, record = train_q_learning(
        tables.tables, QArgs(total_episodes=4000, min_episodes=4000, seed=0, epsilon_end=0.5)
    )
    obs, _ = env.reset(options={"sample_index": 0})
    q_start = record["q_values"][obs[0], obs[1], obs[2]]
    # The tabular state (k, t, bin) does not see the path: (1, 2) reached by CONTINUE, WAIT
    # (savings -0.025) and by WAIT, CONTINUE (-0.05) share one Q cell, whose EXIT value is a
    # mix of 0.9925 and 0.985; so the two-step values may be off by 0.81 * 0.0075 ~ 0.006.
    for a, value in HAND[seed].items():
        assert q_start[a] == pytest.approx(value, abs=0.01)
    assert table[obs[0], obs[1], obs[2]] == best


def test_mask_to_exit_turns_masked_actions_into_exit() -> None:
    traces = make_synthetic_time_traces(4, n_exits=2, n_timesteps=1, seed=0, split="train")
    env = MaskToExit(make_env(None, "train", "box", traces))
    _, info = env.reset(options={"sample_index": 2})
    assert not info["action_mask"][WAIT]  # T = 1: WAIT is masked
    _, reward, terminated, _, info = env.step(WAIT)
    assert terminated and info["exit"] == 0 and info["timesteps"] == 1
    assert reward == pytest.approx(env.unwrapped.tables.reward_exit[2, 0])  # type: ignore[attr-defined]


def test_evaluate_on_env_always_exit_matches_the_rewards_by_hand() -> None:
    # Always EXIT at (0, 1): +1 + alpha * savings if head 0 after 1 timestep is right, else -1.
    traces = make_synthetic_time_traces(30, seed=1, split="test")
    env = make_env(None, "test", "box", traces)
    row = evaluate_on_env("exit-now", env, lambda obs, mask: EXIT)
    correct = traces.probs[:, 0, 0].argmax(-1) == traces.labels
    tables: Any = env.unwrapped
    savings = tables.tables.savings[:, 0]
    by_hand = np.where(correct, 1 + 0.3 * savings, -1.0)
    assert row["mean_return"] == pytest.approx(by_hand.mean())
    assert row["accuracy"] == pytest.approx(correct.mean())
    assert row["mean_exit"] == 0 and row["mean_timesteps"] == 1


@pytest.mark.parametrize(
    ("learner", "hyper"),
    [
        ("dqn", {"learning_starts": 16}),
        ("ppo", {"n_steps": 32, "batch_size": 32, "n_epochs": 1}),
        ("maskable-ppo", {"n_steps": 32, "batch_size": 32, "n_epochs": 1}),
    ],
)
def test_sb3_learners_train_and_evaluate_on_synthetic_traces(learner: str, hyper: dict[str, Any]) -> None:
    train = make_synthetic_time_traces(40, seed=0, split="train")
    test = make_synthetic_time_traces(20, seed=1, split="test")
    row = run_learner(learner, train=train, test=test, timesteps=64, hyper=hyper)
    assert -1.0 <= row["mean_return"] <= 1.3
    assert 0.0 <= row["accuracy"] <= 1.0
    assert 0 <= row["mean_exit"] <= 2 and 1 <= row["mean_timesteps"] <= 4


def test_maskable_ppo_reads_its_rl_zoo_file_whose_values_are_the_defaults() -> None:
    """``agents/hyperparams/ppo_mask.yml`` is MaskablePPO's one source; its values are sb3-contrib's
    defaults (what docs/depth_time.md was measured with)."""
    pytest.importorskip("sb3_contrib")
    import gymnasium as gym
    import yaml
    from sb3_contrib import MaskablePPO

    from agents.depth_time_learners import RL_ZOO_KEYS, maskable_hyperparams
    from agents.learners.sb3 import HYPERPARAMS_DIR

    table = yaml.safe_load((HYPERPARAMS_DIR / "ppo_mask.yml").read_text())
    for env_id in ("SPARQDepthTime-MLP-v0", "SPARQDepthTime-LeNet-v0", "SPARQDepthTime-AlexNet-v0"):
        assert set(RL_ZOO_KEYS) <= set(table[env_id]) and table[env_id]["env_kwargs"] == {"obs_type": "box"}
    hyper = maskable_hyperparams("SPARQDepthTime-LeNet-v0")
    assert not set(hyper) & set(RL_ZOO_KEYS)
    traces = make_synthetic_time_traces(n_samples=8, seed=0)
    env = gym.make("SPARQDepthTime-v0", traces=traces, obs_type="box")
    default = MaskablePPO("MlpPolicy", env, device="cpu")
    for key, value in hyper.items():
        got = getattr(default, key)
        got = got(1.0) if callable(got) else got  # schedules: their value at the start
        assert got == pytest.approx(value), key
