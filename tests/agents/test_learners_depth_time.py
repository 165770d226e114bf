"""The learners of every family on the depth x time family: hand-worked Q values, the one
evaluation path against stepping the environment, SB3 learners through ``sparq train``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate_places
from agents.learners import q_learning
from agents.policy import decide_places
from sparq_gym.envs.depth_time_core import DepthTimeAction, build_depth_time_tables
from sparq_gym.traces.timeset import make_synthetic_time_traces

CONTINUE, EXIT, WAIT = (int(a) for a in DepthTimeAction)
GAMMA = 0.9


def _decisions(traces: Any, obs_type: str = "multidiscrete") -> Any:
    return build_depth_time_tables(
        traces, alpha=0.3, n_bins=10, cost="total_ops", obs_type=obs_type
    ).decisions()


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
# Which heads are right is the draw of each seed, so the best first action differs.
HAND = {
    1: {CONTINUE: 0.803925, EXIT: -1.0, WAIT: 1.0755},
    3: {CONTINUE: 1.02825, EXIT: 1.2475, WAIT: 0.79785},
    4: {CONTINUE: 1.02825, EXIT: -1.0, WAIT: 0.79785},
}


@pytest.mark.parametrize(("seed", "best"), [(1, WAIT), (3, EXIT), (4, CONTINUE)])
def test_q_learning_one_sample_converges_to_the_best_discounted_action(seed: int, best: int) -> None:
    traces = make_synthetic_time_traces(1, n_exits=2, n_timesteps=2, seed=seed, split="train")
    env = gym.make("SPARQDepthTime-v0", traces=traces)
    assert _optimal_q(env, []) == pytest.approx(HAND[seed])  # the environment agrees with the hand
    decisions = _decisions(traces)
    # one evaluation, at the end: the kept table is the final one
    args = q_learning.Args(total_episodes=4000, min_episodes=4000, seed=0, epsilon_end=0.5, eval_every=4000)
    result = q_learning.train_on_tables(decisions, decisions, args, np.random.default_rng(0))
    obs, _ = env.reset(options={"sample_index": 0})
    q_start = result.q_values[tuple(obs)]
    # The tabular state (k, t, bin) does not see the path: (1, 2) reached by CONTINUE, WAIT
    # and by WAIT, CONTINUE share one Q cell; the two-step values may be off by ~0.006.
    for a, value in HAND[seed].items():
        assert q_start[a] == pytest.approx(value, abs=0.01)
    assert result.policy.actions[tuple(obs)] == best


def test_one_evaluation_path_equals_stepping_the_environment() -> None:
    """decide_places + evaluate_places against reset(sample_index=i) and step for every sample,
    with a policy that also sends masked actions (taken as EXIT, counted)."""
    traces = make_synthetic_time_traces(60, seed=4, split="test")
    decisions = _decisions(traces)

    class Wanderer:
        obs_type = "multidiscrete"

        def act(self, observation: Any) -> int:
            k, tau, b = (int(v) for v in observation)
            return (WAIT, CONTINUE, EXIT)[(k + tau + b) % 3]

    places, n_invalid = decide_places(Wanderer(), decisions)
    metrics = evaluate_places(decisions, places)
    env = gym.make("SPARQDepthTime-v0", traces=traces)
    returns, invalid, timesteps = [], 0, []
    for i in range(traces.n_samples):
        obs, _ = env.reset(options={"sample_index": i})
        while True:
            obs, reward, terminated, _, info = env.step(Wanderer().act(obs))
            if terminated:
                break
        returns.append(reward)
        invalid += info["invalid_action"]
        timesteps.append(info["timesteps"])
    assert metrics["mean_return"] == pytest.approx(np.mean(returns), abs=1e-12)
    assert metrics["mean_timesteps"] == pytest.approx(np.mean(timesteps))
    assert n_invalid == invalid > 0


def test_oracle_is_the_best_state_of_each_sample_and_bounds_every_policy(tmp_path) -> None:
    from agents.common import EnvConfig
    from agents.evaluation import evaluate_policy
    from agents.references.registry import REFERENCE_NAMES, make_reference

    train = make_synthetic_time_traces(200, seed=0, split="train")
    test = make_synthetic_time_traces(300, seed=1, split="test")
    train.save(tmp_path)
    test.save(tmp_path)
    config = EnvConfig("SPARQDepthTime-v0", trace_dir=str(tmp_path), optimum_seconds=0)
    returns = {}
    for name in REFERENCE_NAMES["depth_time"]:
        result = evaluate_policy(make_reference(name, config), config, "test")
        returns[name] = result["mean_return"]
    decisions = config.decisions("test")
    assert returns["oracle"] == pytest.approx(decisions.place_reward.max(axis=1).mean())
    assert all(returns["oracle"] >= value for value in returns.values())
    # always-final: WAIT to T at head 0, CONTINUE to the final head: v0's always-final on to_v0()
    v0 = test.to_v0()
    final_right = v0.probs[:, -1].argmax(axis=1) == v0.labels
    assert final_right.mean() == pytest.approx(
        evaluate_policy(make_reference("always-final", config), config, "test")["accuracy"]
    )


def test_masked_family_learners_through_sparq_train_and_evaluate(tmp_path, capsys) -> None:
    """``sparq train`` and ``sparq evaluate`` on a depth x time trace folder: Q-learning, DQN,
    PPO and MaskablePPO (tiny budgets), each saved and ranked by the one evaluation path."""
    import json

    from sparq_gym.cli import main

    traces_dir = tmp_path / "traces"
    make_synthetic_time_traces(120, seed=0, split="train").save(traces_dir)
    make_synthetic_time_traces(80, seed=1, split="test").save(traces_dir)
    env = ["--env", "SPARQDepthTime-v0", "--trace-dir", str(traces_dir)]
    for agent, budget in (
        ("q-learning", ["--episodes", "300"]),
        ("dqn", ["--timesteps", "300"]),
        ("ppo", ["--timesteps", "300"]),
        ("maskable-ppo", ["--timesteps", "300"]),
    ):
        out = tmp_path / agent
        assert main(["train", agent, *env, *budget, "--out", str(out)]) == 0
        capsys.readouterr()
        assert main(["evaluate", "--policy", str(out), "--policy", "oracle", "--json"]) == 0
        results = json.loads(capsys.readouterr().out)
        mine = next(r for r in results if r["policy"] == str(out))
        oracle = next(r for r in results if r["policy"] == "oracle")
        assert mine["env_id"] == "SPARQDepthTime-v0" and mine["n_samples"] == 80
        assert -1.0 <= mine["mean_return"] <= oracle["mean_return"]
        assert 1 <= mine["mean_timesteps"] <= 4
        if agent == "maskable-ppo":
            assert mine["invalid_actions"] == 0  # it acts within the masks


def test_maskable_ppo_is_refused_where_there_is_no_mask(tmp_path, capsys) -> None:
    from sparq_gym.cli import main

    argv = [
        "train",
        "maskable-ppo",
        "--env",
        "SPARQExit-LeNet-v0",
        "--traces",
        "synthetic",
        "--out",
        str(tmp_path / "m"),
    ]
    assert main(argv) == 2
    assert "maskable-ppo needs an environment with action masks" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
