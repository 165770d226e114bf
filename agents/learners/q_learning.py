"""The SPARQ paper's tabular Q-learner (the reference agent), on any environment family.

State ``s``: the family's tabular cell (v0: ``(k, b)``, early exit k and confidence bin b;
depth x time: ``(k, t, b)``). Actions: 0 = CONTINUE, 1 = EXIT (and 2 = WAIT in depth x
time, where masked actions are never chosen: exploration draws among the valid actions, the
greedy choice and the bootstrap take the best valid one). After every step the table is
updated with the paper's Eq. 2::

    Q(s, a) <- Q(s, a) + eta * [ R(s, a) + gamma * max_a' Q(s', a') - Q(s, a) ]

where the bracketed bootstrap term is dropped on the step that ends the
episode (EXIT, or CONTINUE at the last early exit of v0: there is no s'). Paper
hyperparameters: ``eta = 0.1``, ``gamma = 0.9``, ``alpha = 0.3`` (in the
environment's reward), epsilon-greedy exploration with a decaying epsilon,
5,000-10,000 episodes with early stopping.

The inner loop runs over plain Python lists built from the family's decision tables
(:class:`~sparq_gym.envs.decisions.DecisionTables`: ``cell``, ``reward``, ``next_state``,
``valid``), so 10,000
episodes take a fraction of a second (``python -m agents.benchmark.bench_q_learning``);
a test checks that it performs exactly the updates obtained by stepping the
real environment with the same samples and exploration draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import EnvArgs, EnvConfig, check_out, train_validation_split
from agents.policy import TablePolicy, decide_places, format_thresholds, save_table_policy
from sparq_gym.checks import check_choice, check_integer, check_number
from sparq_gym.envs.decisions import DecisionTables, subset_decisions
from sparq_gym.io import atomic_directory, atomic_write_json

__all__ = [
    "Args",
    "EpisodeDraws",
    "QLearningResult",
    "draw_episodes",
    "early_stopping_samples",
    "epsilon_schedule",
    "greedy_actions",
    "run_episodes",
    "summary",
    "summary_record",
    "train",
    "train_on_tables",
]


MAX_EPISODES = 10_000_000
"""Largest episode budget accepted (1,000 times the paper's; a run of it takes minutes)."""


@dataclass
class Args(EnvArgs):
    """Configuration of one Q-learning run (paper defaults); the environment fields come from
    :class:`agents.common.EnvArgs` (``env_id``, ``traces``, ``trace_dir``, ``settings``)."""

    seed: int = 0
    """seed of every random draw of the run (validation split, samples, exploration)"""
    learning_rate: float = 0.1
    """eta of Eq. 2 (paper: 0.1)"""
    gamma: float = 0.9
    """discount of Eq. 2 (paper: 0.9; 1.0 targets the undiscounted return, see the module doc)"""
    total_episodes: int = 10_000
    """maximum number of training episodes (paper: 5,000-10,000)"""
    min_episodes: int = 5_000
    """no early stop before this many episodes"""
    epsilon_start: float = 1.0
    """exploration rate at the first episode"""
    epsilon_end: float = 0.05
    """exploration rate after the decay"""
    epsilon_decay_fraction: float = 0.5
    """fraction of ``total_episodes`` over which epsilon decays linearly"""
    eval_every: int = 250
    """episodes between two validation evaluations of the greedy policy"""
    patience: int = 8
    """evaluations without a validation improvement before stopping"""
    early_stopping_on: str = "train"
    """validation samples of early stopping: ``train`` (the whole train split) or ``holdout``"""
    validation_fraction: float = 0.2
    """with ``early_stopping_on="holdout"``: fraction of the ``train`` split held out (not learned from)"""
    out: str | None = None
    """directory to save the policy to (``policy.npz`` + ``policy.json``); ``None`` saves nothing"""

    def __post_init__(self) -> None:
        """Check every field (a :class:`~sparq_gym.errors.ConfigError` names the one that is wrong)."""
        super().__post_init__()
        check_integer("seed", self.seed, 0)
        check_number("learning_rate", self.learning_rate, 0, 1, low_open=True)
        check_number("gamma", self.gamma, 0, 1)
        check_integer("total_episodes (--episodes)", self.total_episodes, 1, MAX_EPISODES)
        check_integer("min_episodes", self.min_episodes, 0, self.total_episodes)
        check_number("epsilon_start", self.epsilon_start, 0, 1)
        check_number("epsilon_end", self.epsilon_end, 0, 1)
        check_number("epsilon_decay_fraction", self.epsilon_decay_fraction, 0, 1)
        check_integer("eval_every", self.eval_every, 1)
        check_integer("patience", self.patience, 1)
        check_choice("early_stopping_on", self.early_stopping_on, ("train", "holdout"))
        check_number("validation_fraction", self.validation_fraction, 0, 1, low_open=True, high_open=True)
        check_out(self.out)

    def with_budget(self, episodes: int) -> Args:
        """A copy that runs at most ``episodes`` episodes (``min_episodes`` lowered to fit)."""
        return replace(self, total_episodes=episodes, min_episodes=min(self.min_episodes, episodes))


@dataclass
class EpisodeDraws:
    """Every random draw of a run, made up front from one generator.

    :param samples: sample index of each episode, (episodes,).
    :param explore: uniform draw per (episode, step) compared with epsilon.
    :param random_action: action taken when exploring, per (episode, step): an action where
        every action is always valid (v0), else a uniform draw in [0, 1) that picks among the
        valid actions.
    """

    samples: list[int]
    explore: list[list[float]]
    random_action: list[list[Any]]


@dataclass
class QLearningResult:
    """What :func:`train_on_tables` returns.

    :param q_values: the kept (best-validation) Q-table, the cell shape + (A,) (v0: (E-1, B, 2)).
    :param policy: its greedy policy.
    :param curve: one record per evaluation (episode, steps so far, epsilon, validation
        return, mean training return since the previous evaluation).
    :param episodes: episodes run.
    :param steps: environment steps (decisions) taken in those episodes.
    :param best_episode: episode at which the kept table was evaluated.
    :param best_validation_return: its validation return.
    :param stopped_early: whether early stopping ended the run.
    :param wall_time_s: training wall time in seconds.
    """

    q_values: NDArray[np.float64]
    policy: TablePolicy
    curve: list[dict[str, float]] = field(default_factory=list)
    episodes: int = 0
    steps: int = 0
    best_episode: int = 0
    best_validation_return: float = float("-inf")
    stopped_early: bool = False
    wall_time_s: float = 0.0


def epsilon_schedule(args: Args) -> NDArray[np.float64]:
    """Epsilon of every episode: linear from ``epsilon_start`` to ``epsilon_end``, then flat."""
    decay = max(int(args.epsilon_decay_fraction * args.total_episodes), 1)
    steps = np.minimum(np.arange(args.total_episodes) / decay, 1.0)
    return args.epsilon_start + (args.epsilon_end - args.epsilon_start) * steps


def draw_episodes(
    rng: np.random.Generator, learn_indices: NDArray[np.int64], n_episodes: int, decisions: DecisionTables
) -> EpisodeDraws:
    """Draw the sample of every episode (uniform over ``learn_indices``) and the exploration."""
    samples = learn_indices[rng.integers(len(learn_indices), size=n_episodes)]
    shape = (n_episodes, decisions.max_steps)
    explore = rng.random(shape)
    random_action = rng.random(shape) if decisions.masked else rng.integers(decisions.n_actions, size=shape)
    return EpisodeDraws(samples.tolist(), explore.tolist(), random_action.tolist())


def greedy_actions(
    q_values: NDArray[np.float64], cell_valid: NDArray[np.bool_] | None = None
) -> NDArray[np.int64]:
    """Greedy valid action per cell of ``q_values`` (cells x actions, any cell shape); ties go to
    the lowest action (CONTINUE). ``cell_valid``: the mask per cell, flat (every action valid
    when ``None``)."""
    q = np.asarray(q_values, dtype=np.float64)
    if cell_valid is not None:
        q = np.where(cell_valid.reshape(q.shape), q, -np.inf)
    return np.argmax(q, axis=-1).astype(np.int64)


def run_episodes(
    q: list[list[float]],
    decisions: DecisionTables,
    draws: EpisodeDraws,
    epsilons: list[float],
    start: int,
    stop: int,
    learning_rate: float,
    gamma: float,
    _cache: dict[int, Any] | None = None,
) -> tuple[list[float], int]:
    """Run episodes ``start..stop-1`` of ``draws``, updating ``q`` in place with Eq. 2.

    ``q[cell][a]`` is the table as nested lists (fast scalar access), one row per flat
    tabular cell. The transition of action a at state s is read from ``decisions``
    (``next_state``, ``reward``): exactly the environment's step function. Returns the
    return of each episode and the number of steps taken.
    """
    cache = _cache if _cache is not None else {}
    key = id(decisions)
    if key not in cache:
        cache.clear()
        valid = [np.flatnonzero(row).tolist() for row in decisions.valid]
        cache[key] = (
            decisions.cell.tolist(),
            decisions.reward.tolist(),
            decisions.next_state.tolist(),
            valid,
        )
    cells, reward, next_state, valid = cache[key]
    masked = decisions.masked
    returns = []
    n_steps = 0
    for episode in range(start, stop):
        i = draws.samples[episode]
        explore = draws.explore[episode]
        random_action = draws.random_action[episode]
        epsilon = epsilons[episode]
        cells_i, reward_i = cells[i], reward[i]
        s = step = 0
        while True:
            q_s = q[cells_i[s]]
            actions = valid[s]
            if explore[step] < epsilon:
                a = actions[int(random_action[step] * len(actions))] if masked else random_action[step]
            else:
                a = actions[0]
                for b in actions[1:]:  # the greedy valid action, ties to the lowest
                    if q_s[b] > q_s[a]:
                        a = b
            r = reward_i[s][a]
            s_next = next_state[s][a]
            if s_next < 0:
                target = r  # terminal step: no bootstrap
            else:
                q_next = q[cells_i[s_next]]
                target = r + gamma * max(q_next[b] for b in valid[s_next])
            q_s[a] += learning_rate * (target - q_s[a])  # Eq. 2
            n_steps += 1
            if s_next < 0:
                returns.append(r)
                break
            s, step = s_next, step + 1
    return returns, n_steps


def _validation_return(q_values: NDArray[np.float64], decisions: DecisionTables) -> float:
    policy = TablePolicy(greedy_actions(q_values, decisions.cell_valid))
    places = decide_places(policy, decisions)[0]
    return float(decisions.place_reward[np.arange(decisions.n_samples), places].mean())


def train_on_tables(
    learn: DecisionTables, validation: DecisionTables, args: Args, rng: np.random.Generator
) -> QLearningResult:
    """Train a Q-table on the ``learn`` tables, early-stopping on the ``validation`` tables.

    ``learn`` and ``validation`` are both the whole ``train`` split, or disjoint
    parts of it (:func:`agents.common.train_validation_split`). All randomness
    comes from ``rng``.
    """
    start_time = time.perf_counter()
    draws = draw_episodes(rng, np.arange(learn.n_samples), args.total_episodes, learn)
    epsilons = epsilon_schedule(args).tolist()
    shape = (*learn.cell_shape, learn.n_actions)
    cell_valid = learn.cell_valid
    q = np.zeros((int(np.prod(learn.cell_shape)), learn.n_actions)).tolist()
    cache: dict[int, Any] = {}
    result = QLearningResult(
        q_values=np.zeros(shape),
        policy=TablePolicy(greedy_actions(np.zeros(shape), cell_valid)),
    )
    stale = 0
    episode = 0
    total_steps = 0
    while episode < args.total_episodes:
        stop = min(episode + args.eval_every, args.total_episodes)
        returns, n_steps = run_episodes(
            q, learn, draws, epsilons, episode, stop, args.learning_rate, args.gamma, cache
        )
        episode = stop
        total_steps += n_steps
        q_values = np.array(q).reshape(shape)
        value = _validation_return(q_values, validation) if validation.n_samples else 0.0
        result.curve.append(
            {
                "episode": episode,
                "steps": total_steps,
                "epsilon": epsilons[episode - 1],
                "validation_return": value,
                "train_return": float(np.mean(returns)),
            }
        )
        if not validation.n_samples:
            # No validation part (validation_fraction=0): keep the latest table, never stop early.
            result.q_values, result.best_episode = q_values, episode
            continue
        if value > result.best_validation_return:
            result.best_validation_return = value
            result.best_episode = episode
            result.q_values = q_values
            stale = 0
        else:
            stale += 1
        if episode >= args.min_episodes and stale >= args.patience:
            result.stopped_early = episode < args.total_episodes
            break
    result.episodes = episode
    result.steps = total_steps
    result.policy = TablePolicy(greedy_actions(result.q_values, cell_valid), "q-learning", result.q_values)
    result.wall_time_s = time.perf_counter() - start_time
    return result


def early_stopping_samples(
    n_samples: int, args: Args, split_seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positions in the ``train`` split the learner learns from and validates on.

    Both are every sample with ``args.early_stopping_on == "train"``; with
    ``"holdout"``, the disjoint parts of :func:`agents.common.train_validation_split`
    (``args.validation_fraction``, seeded by ``split_seed``).
    """
    if args.early_stopping_on == "train":
        every = np.arange(n_samples, dtype=np.int64)
        return every, every
    if args.early_stopping_on == "holdout":
        return train_validation_split(n_samples, args.validation_fraction, split_seed)
    raise ValueError(f"early_stopping_on must be 'train' or 'holdout', got {args.early_stopping_on!r}")


def train(args: Args, config: EnvConfig | None = None) -> QLearningResult:
    """Train the paper's Q-learner on ``args.env_id``'s ``train`` split; save it when ``args.out``.

    Saves ``policy.npz`` (``actions`` over the cell shape, v0 (E-1, B), and ``q_values``) and
    ``policy.json`` (kind ``q-learning``, args, environment, implied thresholds,
    learning curve, wall time) atomically; load it back with
    :func:`agents.loading.load_policy`. ``config``, when given, is the environment
    of ``args`` as the caller holds it (its loaded tables are reused).
    """
    # ---- seeding: every random draw of the run comes from this one generator ----
    rng = np.random.default_rng(args.seed)
    split_seed = int(rng.integers(2**31))
    # ------------------------------------------------------------------------------
    config = args.env_config(config)
    decisions = config.decisions("train", "multidiscrete")
    learn_idx, val_idx = early_stopping_samples(decisions.n_samples, args, split_seed)
    result = train_on_tables(
        subset_decisions(decisions, learn_idx), subset_decisions(decisions, val_idx), args, rng
    )
    if args.out is not None:
        with atomic_directory(args.out) as staging:  # policy, record and curve land together
            _save(staging, result, args, config)
    return result


def _save(directory: Path, result: QLearningResult, args: Args, config: EnvConfig) -> None:
    """Write ``policy.npz``, ``policy.json`` and ``learning_curve.json`` of a run into ``directory``."""
    save_table_policy(
        directory,
        result.policy,
        kind="q-learning",
        metadata={
            "args": args.record(),
            "env": config.to_dict(),
            "episodes": result.episodes,
            "best_episode": result.best_episode,
            "best_validation_return": result.best_validation_return,
            "stopped_early": result.stopped_early,
            "wall_time_s": result.wall_time_s,
            "train_steps": result.steps,
        },
    )
    atomic_write_json(directory / "learning_curve.json", result.curve)


def summary_record(result: QLearningResult) -> dict[str, Any]:
    """What ``sparq train q-learning --json`` prints of a run: episodes, return, thresholds, time."""
    return {
        "episodes": result.episodes,
        "best_validation_return": result.best_validation_return,
        "thresholds": result.policy.thresholds(),
        "wall_time_s": result.wall_time_s,
    }


def summary(result: QLearningResult) -> str:
    """One line: episodes, validation return, implied thresholds and wall time."""
    return (
        f"{result.episodes} episodes ({'early stop' if result.stopped_early else 'full run'}), "
        f"best validation return {result.best_validation_return:.4f} at episode "
        f"{result.best_episode}, thresholds {format_thresholds(result.policy.thresholds())}, "
        f"{result.wall_time_s:.2f} s"
    )
