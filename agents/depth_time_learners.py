"""Learning agents on the depth x time environments (spec §9) beside the reference policies.

=============== ==========================================================================
learner         how it learns
=============== ==========================================================================
``q-learning``  tabular Q-learning (paper: eta = 0.1, gamma = 0.9, epsilon-greedy decaying
                linearly from 1 to 0.05 over half the episodes) over the tabular state
                (k, t, bin), stepped on the environment's precomputed tables
                (:class:`~sparq_gym.envs.depth_time_core.DepthTimeTables`: the same
                transitions as the environment); exploration draws and the max of the
                target range over the valid actions only (the action mask); early stopping
                on the ``train`` split's return of the greedy table every 250 episodes
                (patience 8, not before 5,000 episodes), the best table kept
``dqn``         SB3 DQN, ``box`` observation, default hyperparameters
                (``buffer_size`` = the budget)
``ppo``         SB3 PPO, ``box`` observation, default hyperparameters
``maskable-ppo`` sb3-contrib MaskablePPO, ``box`` observation, reading ``action_masks()``;
                hyperparameters from ``agents/hyperparams/ppo_mask.yml`` (RL Zoo's format)
=============== ==========================================================================

DQN and PPO know nothing of the mask: :class:`MaskToExit` turns a masked choice
(CONTINUE at the final head, WAIT at t = T) into EXIT, in training and in
evaluation alike, so every choice they make is a legal step.

:func:`evaluate_on_env` plays a policy deterministically on every sample of a split,
one episode each through the environment (``reset(options={"sample_index": i})``).
``python -m agents.depth_time_learners --backbone mlp lenet alexnet --out docs/depth_time.md``
trains on ``train``, evaluates on ``test`` and writes one table per backbone, the
cheap reference rows of :func:`agents.references.time_thresholds.reference_numbers` beside them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

import sparq_gym  # noqa: F401  (registers the environment ids)
from agents.references.time_thresholds import EXIT, format_rows, reference_numbers, rollout_table
from agents.learners.q_learning import Args as QArgs
from sparq_gym.envs.depth_time_core import DepthTimeTables
from sparq_gym.traces.timeset import TimeTraceSet

__all__ = [
    "LEARNERS",
    "MaskToExit",
    "evaluate_on_env",
    "greedy_table",
    "main",
    "make_env",
    "run_learner",
    "train_q_learning",
    "train_sb3",
]

LEARNERS: tuple[str, ...] = ("q-learning", "dqn", "ppo", "maskable-ppo")
ENV_IDS = {
    "mlp": "SPARQDepthTime-MLP-v0",
    "lenet": "SPARQDepthTime-LeNet-v0",
    "alexnet": "SPARQDepthTime-AlexNet-v0",
}
GENERIC_ID = "SPARQDepthTime-v0"

Act = Callable[[Any, NDArray[np.bool_]], int]


class MaskToExit(gym.Wrapper[Any, Any, Any, Any]):
    """Turn a masked action (CONTINUE at the final head, WAIT at t = T) into EXIT."""

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step with ``action``, or with EXIT when the current mask forbids ``action``."""
        base: Any = self.env.unwrapped
        mask = base.action_masks()
        a = int(action)
        return self.env.step(a if mask[a] else EXIT)


def make_env(
    backbone: str | None,
    split: str,
    obs_type: str,
    traces: TimeTraceSet | None = None,
) -> gym.Env[Any, Any]:
    """``SPARQDepthTime-<Backbone>-v0`` on ``split``, or the generic id over in-memory ``traces``."""
    if traces is not None:
        return gym.make(GENERIC_ID, traces=traces, obs_type=obs_type)
    assert backbone is not None
    return gym.make(ENV_IDS[backbone], split=split, obs_type=obs_type)


def _cell_masks(tables: DepthTimeTables) -> NDArray[np.bool_]:
    """The action mask of each decision point (k, tau), (E, T, 3)."""
    masks = np.zeros((tables.n_exits, tables.n_timesteps, 3), dtype=np.bool_)
    masks[tables.state_head, tables.state_time] = tables.valid
    return masks


def greedy_table(q_values: NDArray[np.float64], tables: DepthTimeTables) -> NDArray[np.int64]:
    """The greedy valid action of each (k, tau, b), (E, T, B); ties go to the lowest action."""
    masked = np.where(_cell_masks(tables)[:, :, None, :], q_values, -np.inf)
    return np.argmax(masked, axis=-1).astype(np.int64)


def _table_return(tables: DepthTimeTables, table: NDArray[np.int64]) -> float:
    states = rollout_table(tables, table)
    return float(tables.reward_exit[np.arange(tables.n_samples), states].mean())


def _q_episode(
    q: NDArray[np.float64],
    tables: DepthTimeTables,
    sample: int,
    epsilon: float,
    rng: np.random.Generator,
    lr: float,
    gamma: float,
) -> None:
    """One episode of Q-learning on ``sample``, updating ``q[k, tau, b, a]`` in place."""
    state = 0
    bins = tables.bins[sample]
    while True:
        k, tau = int(tables.state_head[state]), int(tables.state_time[state])
        cell = q[k, tau, bins[k, tau]]
        valid = np.flatnonzero(tables.valid[state])
        if rng.random() < epsilon:
            a = int(valid[rng.integers(len(valid))])
        else:
            a = int(valid[np.argmax(cell[valid])])
        if a == EXIT:
            cell[a] += lr * (tables.reward_exit[sample, state] - cell[a])
            return
        nxt = int(tables.next_state[state, a])
        k2, tau2 = int(tables.state_head[nxt]), int(tables.state_time[nxt])
        target = gamma * float(q[k2, tau2, bins[k2, tau2]][tables.valid[nxt]].max())
        cell[a] += lr * (target - cell[a])
        state = nxt


def train_q_learning(tables: DepthTimeTables, args: QArgs) -> tuple[NDArray[np.int64], dict[str, Any]]:
    """Tabular Q-learning on ``tables`` with the paper's Q-learner settings (``args``: the
    learning rate, gamma, episodes, epsilon schedule and early stopping of
    :class:`agents.learners.q_learning.Args`; its environment fields are not used); returns the best
    greedy table (on ``tables``) and a record.

    The record: ``episodes`` run, ``best_episode``, ``train_return`` (the best table's mean
    return on ``tables``) and ``q_values`` (the final Q-table, (E, T, B, 3)).
    """
    episodes, eval_every, epsilon_end = args.total_episodes, args.eval_every, args.epsilon_end
    learning_rate, gamma = args.learning_rate, args.gamma
    patience, min_episodes = args.patience, args.min_episodes
    rng = np.random.default_rng(args.seed)
    q = np.zeros((tables.n_exits, tables.n_timesteps, tables.n_bins, 3))
    decay = max(int(episodes * args.epsilon_decay_fraction), 1)
    best_table, best, best_episode, stale, episode = greedy_table(q, tables), -np.inf, 0, 0, 0
    samples = rng.integers(tables.n_samples, size=episodes)
    while episode < episodes:
        for _ in range(min(eval_every, episodes - episode)):
            epsilon = args.epsilon_start + (epsilon_end - args.epsilon_start) * min(episode / decay, 1.0)
            _q_episode(q, tables, int(samples[episode]), epsilon, rng, learning_rate, gamma)
            episode += 1
        table = greedy_table(q, tables)
        value = _table_return(tables, table)
        if value > best:
            best_table, best, best_episode, stale = table, value, episode, 0
        else:
            stale += 1
        if episode >= min_episodes and stale >= patience:
            break
    record = {"episodes": episode, "best_episode": best_episode, "train_return": best, "q_values": q}
    return best_table, record


RL_ZOO_KEYS = ("n_timesteps", "policy", "n_envs", "env_kwargs")
"""Keys of an RL Zoo entry that are not constructor arguments."""


def maskable_hyperparams(env_id: str) -> dict[str, Any]:
    """MaskablePPO's constructor arguments for ``env_id`` from ``agents/hyperparams/ppo_mask.yml``."""
    from agents.learners.sb3 import HYPERPARAMS_DIR, load_hyperparams

    entry = load_hyperparams(env_id, "ppo_mask", HYPERPARAMS_DIR / "ppo_mask.yml")
    return {key: value for key, value in entry.items() if key not in RL_ZOO_KEYS}


def train_sb3(learner: str, env: gym.Env[Any, Any], timesteps: int, seed: int, **hyper: Any) -> Any:
    """Train DQN, PPO (through :class:`MaskToExit`) or MaskablePPO on a ``box`` env.

    ``hyper``: keyword arguments of the SB3 class (defaults otherwise).
    """
    if learner == "maskable-ppo":
        from sb3_contrib import MaskablePPO
        from sb3_contrib.common.wrappers import ActionMasker

        masked = ActionMasker(env, lambda e: e.unwrapped.action_masks())  # type: ignore[attr-defined]
        model: Any = MaskablePPO("MlpPolicy", masked, seed=seed, verbose=0, device="cpu", **hyper)
    elif learner == "ppo":
        from stable_baselines3 import PPO

        model = PPO("MlpPolicy", MaskToExit(env), seed=seed, verbose=0, device="cpu", **hyper)
    elif learner == "dqn":
        from stable_baselines3 import DQN

        hyper = {"buffer_size": max(timesteps, 1000), **hyper}
        model = DQN("MlpPolicy", MaskToExit(env), seed=seed, verbose=0, device="cpu", **hyper)
    else:
        raise ValueError(f"learner must be one of {list(LEARNERS)}, got {learner!r}")
    return model.learn(total_timesteps=timesteps)


def sb3_act(model: Any, learner: str) -> Act:
    """The deterministic action function of a trained SB3 model (masked choices become EXIT)."""
    if learner == "maskable-ppo":
        return lambda obs, mask: int(model.predict(obs, deterministic=True, action_masks=mask)[0])

    def act(obs: Any, mask: NDArray[np.bool_]) -> int:
        a = int(model.predict(obs, deterministic=True)[0])
        return a if mask[a] else EXIT

    return act


def evaluate_on_env(name: str, env: gym.Env[Any, Any], act: Act) -> dict[str, Any]:
    """Play ``act(obs, mask)`` once on every sample of ``env``'s split; the mean outcomes."""
    base: Any = env.unwrapped
    n = base.tables.n_samples
    returns, correct, savings, heads, steps = (np.zeros(n) for _ in range(5))
    for i in range(n):
        obs, info = env.reset(options={"sample_index": i})
        total = 0.0
        while True:
            obs, reward, terminated, _, info = env.step(act(obs, info["action_mask"]))
            total += float(reward)
            if terminated:
                break
        returns[i], correct[i], savings[i] = total, info["correct"], info["savings"]
        heads[i], steps[i] = info["exit"], info["timesteps"]
    return {
        "name": name,
        "mean_return": float(returns.mean()),
        "accuracy": float(correct.mean()),
        "savings": float(savings.mean()),
        "mean_exit": float(heads.mean()),
        "mean_timesteps": float(steps.mean()),
    }


def run_learner(
    learner: str,
    *,
    backbone: str | None = None,
    train: TimeTraceSet | None = None,
    test: TimeTraceSet | None = None,
    seed: int = 0,
    episodes: int = 10_000,
    timesteps: int = 20_000,
    hyper: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``learner`` on the train split, evaluate it on the test split; one table row.

    ``hyper``: SB3 keyword arguments (:func:`train_sb3`); ignored by Q-learning.
    """
    tabular = learner == "q-learning"
    obs_type = "multidiscrete" if tabular else "box"
    train_env = make_env(backbone, "train", obs_type, train)
    start = time.perf_counter()
    note = f"seed {seed}, "
    train_return = float("nan")
    if tabular:
        tables = train_env.unwrapped.tables  # type: ignore[attr-defined]
        table, record = train_q_learning(tables, QArgs(total_episodes=episodes, seed=seed))
        train_return = record["train_return"]
        note += f"{record['episodes']} episodes (best at {record['best_episode']})"

        def act_table(obs: Any, mask: NDArray[np.bool_]) -> int:
            return int(table[obs[0], obs[1], obs[2]])

        act: Act = act_table
    else:
        if hyper is None and learner == "maskable-ppo":  # the RL Zoo file is its one source
            hyper = maskable_hyperparams(train_env.spec.id if train_env.spec else "default")
        model = train_sb3(learner, train_env, timesteps, seed, **(hyper or {}))
        act = sb3_act(model, learner)
        note += f"{timesteps} timesteps" + ("" if learner == "maskable-ppo" else ", masked -> EXIT")
    seconds = time.perf_counter() - start
    train_env.close()
    test_env = make_env(backbone, "test", obs_type, test)
    start = time.perf_counter()
    row = evaluate_on_env(learner, test_env, act)
    note += f", eval {time.perf_counter() - start:.0f} s"
    test_env.close()
    return {**row, "train_return": train_return, "seconds": seconds, "note": note}


def backbone_section(backbone: str, args: argparse.Namespace) -> str:
    """The markdown section of one backbone: reference rows, then the learners' rows."""
    from sparq_gym.envs.depth_time_env import load_time_traces

    start = time.perf_counter()
    train, test = load_time_traces(backbone, split="train"), load_time_traces(backbone, split="test")
    rows = reference_numbers(train, test, with_optimum=False)
    for learner in args.learners:
        runs = []
        for seed in args.seeds:
            print(f"{backbone}: training {learner}, seed {seed}", flush=True)
            runs.append(
                run_learner(
                    learner, backbone=backbone, seed=seed, episodes=args.episodes, timesteps=args.timesteps
                )
            )
            print(f"  {runs[-1]}", flush=True)
        rows.extend(runs)
        if len(runs) > 1:
            rows.append(_mean_row(learner, runs))
    title = (
        f"{backbone} ({ENV_IDS[backbone]}): alpha 0.3, B 10, cost total_ops, "
        f"{train.n_samples} train / {test.n_samples} test samples"
    )
    table = format_rows(rows, title).replace("nan", "—")
    wall = time.perf_counter() - start
    return f"{table}\n\nWall time of this section (references, training, evaluation): {wall:.0f} s."


def _mean_row(learner: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of a learner's rows over seeds (numbers averaged, seconds summed)."""
    keys = ("train_return", "mean_return", "accuracy", "savings", "mean_exit", "mean_timesteps")
    row: dict[str, Any] = {key: float(np.mean([r[key] for r in runs])) for key in keys}
    spread = float(np.std([r["mean_return"] for r in runs]))
    return {
        **row,
        "name": f"**{learner} mean**",
        "seconds": float(sum(r["seconds"] for r in runs)),
        "note": f"mean of {len(runs)} seeds; test return std {spread:.4f}",
    }


def _header(argv: list[str], args: argparse.Namespace) -> str:
    return "\n".join(
        [
            "# Depth x time: learners beside the reference policies",
            "",
            "The depth x time family (`SPARQDepthTime-<Backbone>-v0`, spec §9) lets the agent, at each",
            "decision point (head k, timestep t), EXIT (answer head k after t timesteps), CONTINUE (go to",
            "head k+1 at the same t) or WAIT (run one more timestep up to head k); the reward is v0's",
            "(+1 + alpha * savings if right, -1 if wrong). The contract is the docstring of",
            "`sparq_gym/envs/depth_time_env.py` (actions, `action_masks()`, observation types).",
            "",
            "Learners train on `train` and are evaluated deterministically once on every `test` sample",
            "(`agents/depth_time_learners.py`, whose docstring gives each learner's settings; DQN and PPO",
            "map a masked choice to EXIT). Reference rows come from `agents.references.time_thresholds.reference_numbers`",
            "(tuned on `train`). The exact tabular optimum (a MILP, minutes to hours per backbone) is",
            "not rerun here: `python -m agents.references.time_thresholds --backbone NAME --time-limit S` prints it;",
            "where it is proven and what it beats: [depth_time_optimum.md](depth_time_optimum.md).",
            "`tuning s` is the training wall time on a shared 2-core CPU; the note gives the",
            "evaluation time.",
            "",
            f"Budgets: Q-learning at most {args.episodes} episodes (early stopping as in the",
            f"docstring), DQN / PPO / MaskablePPO {args.timesteps} timesteps each; seeds",
            f"{', '.join(map(str, args.seeds))} (one row per seed, and their mean when several).",
            "",
            "Produced by:",
            "",
            "```",
            "python -m agents.depth_time_learners " + " ".join(argv),
            "```",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.depth_time_learners --backbone ... [--out FILE]``: the tables."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", nargs="+", default=["mlp", "lenet", "alexnet"], choices=list(ENV_IDS))
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--episodes", type=int, default=10_000, help="Q-learning episodes")
    parser.add_argument("--timesteps", type=int, default=20_000, help="SB3 timesteps")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown page here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    parts = [_header(argv, args)]
    for backbone in args.backbone:
        parts.append(backbone_section(backbone, args))
        print(parts[-1], flush=True)
        if args.out is not None:
            args.out.write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
