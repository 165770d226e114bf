"""How long 10,000 episodes of the paper's Q-learner take, against a reference in the same run.

Run ``python -m agents.benchmark.bench_q_learning`` (or ``sparq bench-q-learning``). Three
timings, each the median of ``repeats`` interleaved runs:

``fast``        :func:`agents.learners.q_learning.train_on_tables`: 10,000 episodes on the
                precomputed tables, with early stopping disabled and the
                validation evaluations it performs every ``eval_every`` episodes
                (on the samples the learner's default validates on)
``fast_loop``   the update loop alone (:func:`agents.learners.q_learning.run_episodes`)
``reference``   the same updates written the obvious way: ``gym.make`` the
                environment, ``reset(options={"sample_index": i})`` and ``step``
                per decision, Eq. 2 on a numpy Q-table

The ratio ``reference / fast`` compares timings from the same run, so it holds
on a loaded machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import DEFAULT_ENV_ID, TRACE_SOURCES, EnvConfig
from agents.learners import q_learning
from sparq_gym.envs.decisions import subset_decisions

__all__ = ["add_arguments", "benchmark_q_learning", "main", "reference_episodes", "run"]


def reference_episodes(
    env: Any,
    draws: q_learning.EpisodeDraws,
    epsilons: list[float],
    n_episodes: int,
    q: NDArray[np.float64],
    learning_rate: float = 0.1,
    gamma: float = 0.9,
) -> list[float]:
    """Episodes ``0..n_episodes-1`` of ``draws`` written the obvious way; return each one's return.

    ``reset(options={"sample_index": i})`` and ``step`` the real environment ``env`` (any
    family, ``multidiscrete`` observation) per decision, with epsilon-greedy actions from
    ``draws`` among the valid ones (``info["action_mask"]`` where the family has masks) and
    Eq. 2 on the numpy Q-table ``q`` (cell shape + (A,)), updated in place: the reference
    the fast loop (:func:`agents.learners.q_learning.run_episodes`) is timed and tested against.
    """
    returns = []
    for e in range(n_episodes):
        obs, info = env.reset(options={"sample_index": draws.samples[e]})
        step = 0
        while True:
            here = tuple(int(v) for v in obs)
            valid = np.flatnonzero(info.get("action_mask", np.ones(q.shape[-1], dtype=bool)))
            if draws.explore[e][step] < epsilons[e]:
                pick = draws.random_action[e][step]
                a = int(valid[int(pick * len(valid))]) if isinstance(pick, float) else int(pick)
            else:
                a = int(valid[np.argmax(q[here][valid])])
            obs, reward, terminated, _, info = env.step(a)
            if terminated:
                target = reward
            else:
                after = np.flatnonzero(info.get("action_mask", np.ones(q.shape[-1], dtype=bool)))
                target = reward + gamma * q[tuple(int(v) for v in obs)][after].max()
            q[here][a] += learning_rate * (target - q[here][a])
            if terminated:
                returns.append(float(reward))
                break
            step += 1
    return returns


def _reference(config: EnvConfig, draws: q_learning.EpisodeDraws, epsilons: list[float], n: int) -> float:
    env = config.make_env("train")
    decisions = config.decisions("train")
    q = np.zeros((*decisions.cell_shape, decisions.n_actions))
    start = time.perf_counter()
    reference_episodes(env, draws, epsilons, n, q)
    return time.perf_counter() - start


def benchmark_q_learning(
    env_id: str = DEFAULT_ENV_ID, episodes: int = 10_000, repeats: int = 3, traces: str = TRACE_SOURCES[0]
) -> dict[str, Any]:
    """Median seconds of ``episodes`` Q-learning episodes (fast, loop only, reference) and ratios."""
    config = EnvConfig(env_id=env_id, traces=traces)
    tables = config.decisions("train")
    args = q_learning.Args(env_id=env_id, total_episodes=episodes, min_episodes=episodes)
    learn_idx, val_idx = q_learning.early_stopping_samples(tables.n_samples, args, split_seed=0)
    learn, validation = subset_decisions(tables, learn_idx), subset_decisions(tables, val_idx)
    epsilons = q_learning.epsilon_schedule(args).tolist()
    timings: dict[str, list[float]] = {"fast": [], "fast_loop": [], "reference": []}
    for repeat in range(repeats):
        rng = np.random.default_rng(repeat)
        result = q_learning.train_on_tables(learn, validation, args, rng)
        assert result.episodes == episodes
        timings["fast"].append(result.wall_time_s)
        draws = q_learning.draw_episodes(np.random.default_rng(repeat), learn_idx, episodes, tables)
        q = np.zeros((int(np.prod(tables.cell_shape)), tables.n_actions)).tolist()
        start = time.perf_counter()
        q_learning.run_episodes(q, tables, draws, epsilons, 0, episodes, 0.1, 0.9)
        timings["fast_loop"].append(time.perf_counter() - start)
        timings["reference"].append(_reference(config, draws, epsilons, episodes))
    median = {name: statistics.median(values) for name, values in timings.items()}
    return {
        "env_id": env_id,
        "traces": config.source(),
        "episodes": episodes,
        "repeats": repeats,
        "seconds": median,
        "ratio_reference_over_fast": median["reference"] / median["fast"],
        "ratio_reference_over_fast_loop": median["reference"] / median["fast_loop"],
        "under_2_seconds": median["fast"] < 2.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``python -m agents.benchmark.bench_q_learning`` and ``sparq bench-q-learning``."""
    parser.add_argument("--env", default=DEFAULT_ENV_ID)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--traces", default=TRACE_SOURCES[0], choices=TRACE_SOURCES)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed ``args`` and print the result."""
    result = benchmark_q_learning(args.env, args.episodes, args.repeats, args.traces)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s = result["seconds"]
    print(
        f"Q-learning, {result['episodes']} episodes on {result['env_id']} ({result['traces']} traces), "
        f"median of {result['repeats']}:"
    )
    print(f"  train_on_tables (with validation evals): {s['fast']:.3f} s")
    print(f"  update loop only:                        {s['fast_loop']:.3f} s")
    print(f"  reference (gym.make env + numpy Q):      {s['reference']:.3f} s")
    print(
        f"  ratio reference / train_on_tables: {result['ratio_reference_over_fast']:.1f}x; "
        f"under 2 s: {result['under_2_seconds']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
