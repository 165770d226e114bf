"""Sub-commands ``sparq train``, ``sparq evaluate`` and ``sparq benchmark``.

::

    sparq train q-learning --env SPARQExit-LeNet-v0 --seed 0 --out runs/ql-lenet-0
    sparq evaluate --env SPARQExit-LeNet-v0 --policy runs/ql-lenet-0 --split test --json
    sparq evaluate --env SPARQExit-LeNet-v0 --policy cfg-0.6-0.7 --policy my_policy.py:Policy
    sparq benchmark --quick --out runs/benchmark

``--traces synthetic`` runs everything on synthetic traces shaped like the
backbone (the default ``auto`` uses the shipped traces when they exist).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register"]


def _add_env_arguments(parser: argparse.ArgumentParser, env_required: bool = True) -> None:
    parser.add_argument(
        "--env", required=env_required, default=None, help="environment id, e.g. SPARQExit-LeNet-v0"
    )
    # Defaults are None so that `sparq evaluate` can tell a flag given from one
    # left out and take the left-out ones from a saved policy's environment.
    parser.add_argument(
        "--traces",
        default=None,
        choices=("auto", "pretrained", "synthetic"),
        help="trace source (default auto: shipped traces if present, else synthetic)",
    )
    parser.add_argument("--trace-dir", default=None, help="your own trace directory (SPARQExit-v0)")
    parser.add_argument("--alpha", type=float, default=None, help="weight of the savings (default 0.3)")
    parser.add_argument("--n-bins", type=int, default=None, help="number of confidence bins B (default 10)")
    parser.add_argument("--cost", default=None, help="what savings are measured in (default total_ops)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train``, ``evaluate`` and ``benchmark`` to the ``sparq`` command."""
    train = subparsers.add_parser("train", help="train an exit policy (q-learning, dqn, ppo)")
    train.add_argument("agent", choices=("q-learning", "dqn", "ppo"))
    _add_env_arguments(train)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="directory to save the policy to")
    train.add_argument("--gamma", type=float, default=None, help="Q-learning discount (paper: 0.9)")
    train.add_argument("--episodes", type=int, default=None, help="Q-learning: maximum episodes")
    train.add_argument(
        "--early-stopping-on",
        choices=("train", "holdout"),
        default=None,
        help="Q-learning: validation samples, the whole train split (default) or a 20%% hold-out",
    )
    train.add_argument("--timesteps", type=int, default=None, help="DQN/PPO: training steps (YAML default)")
    train.add_argument(
        "--obs-type",
        default=None,
        choices=("multidiscrete", "box"),
        help="DQN/PPO observation (YAML default)",
    )
    train.add_argument("--threads", type=int, default=1, help="torch threads for DQN/PPO")
    train.add_argument("--json", action="store_true", help="print a JSON summary")
    train.set_defaults(handler=_run_train)

    evaluate = subparsers.add_parser("evaluate", help="evaluate policies on every sample of a split")
    _add_env_arguments(evaluate, env_required=False)
    evaluate.add_argument(
        "--policy",
        action="append",
        required=True,
        help="saved policy dir, baseline name, module:Name or file.py[:Name] (repeatable)",
    )
    evaluate.add_argument("--split", default="test", choices=("train", "test"))
    evaluate.add_argument("--seed", type=int, default=0, help="seed of stochastic policies")
    evaluate.add_argument("--json", action="store_true", help="print JSON (one object, or a list)")
    evaluate.add_argument("--out", default=None, help="also write the JSON to this file")
    evaluate.set_defaults(handler=_run_evaluate)

    bench = subparsers.add_parser("benchmark", help="every policy x environment x seed -> leaderboard")
    bench.add_argument(
        "--quick", action="store_true", help="DQN/PPO trained for 5,000 steps only (about a minute)"
    )
    bench.add_argument("--out", required=True, help="output directory")
    bench.add_argument("--envs", nargs="+", default=None, help="environment ids (default: all three)")
    bench.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    bench.add_argument(
        "--agents",
        nargs="+",
        default=None,
        help="subset of: q-learning q-learning-gamma1 dqn ppo (default: all)",
    )
    bench.add_argument("--policy", action="append", default=[], help="add your own policy (repeatable)")
    bench.add_argument("--traces", default="auto", choices=("auto", "pretrained", "synthetic"))
    bench.add_argument("--sb3-timesteps", type=int, default=None, help="override the DQN/PPO budget")
    bench.add_argument("--threads", type=int, default=1, help="torch threads for DQN/PPO")
    bench.add_argument("--no-plots", action="store_true")
    bench.add_argument("--no-progress", action="store_true")
    bench.set_defaults(handler=_run_benchmark)

    bench_q = subparsers.add_parser(
        "bench-q-learning", help="time 10,000 Q-learning episodes against a gym.make reference"
    )
    bench_q.add_argument("--env", default="SPARQExit-LeNet-v0")
    bench_q.add_argument("--episodes", type=int, default=10_000)
    bench_q.add_argument("--repeats", type=int, default=3)
    bench_q.add_argument("--traces", default="auto", choices=("auto", "pretrained", "synthetic"))
    bench_q.add_argument("--json", action="store_true")
    bench_q.set_defaults(handler=_run_bench_q_learning)


_ENV_DEFAULTS: dict[str, Any] = {
    "traces": "auto",
    "trace_dir": None,
    "alpha": 0.3,
    "n_bins": 10,
    "cost": "total_ops",
}


def _env_config(args: argparse.Namespace, env_id: str, saved: dict[str, Any] | None = None) -> Any:
    """The environment of a command: flags given win, then a saved policy's, then the defaults."""
    from agents.common import EnvConfig

    values = {}
    for key, default in _ENV_DEFAULTS.items():
        given = getattr(args, key)
        values[key] = given if given is not None else (saved or {}).get(key, default)
    return EnvConfig(env_id=env_id, **values)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(int(threads), 1))


def _run_train(args: argparse.Namespace) -> int:
    env = _env_config(args, args.env)
    common = {
        "env_id": args.env,
        "traces": env.traces,
        "trace_dir": env.trace_dir,
        "seed": args.seed,
        "alpha": env.alpha,
        "n_bins": env.n_bins,
        "cost": env.cost,
        "out": args.out,
    }
    if args.agent == "q-learning":
        from agents import q_learning

        q_args = q_learning.Args(**common)
        if args.gamma is not None:
            q_args.gamma = args.gamma
        if args.early_stopping_on is not None:
            q_args.early_stopping_on = args.early_stopping_on
        if args.episodes is not None:
            q_args.total_episodes = args.episodes
            q_args.min_episodes = min(q_args.min_episodes, args.episodes)
        result = q_learning.train(q_args)
        summary = {
            "agent": "q-learning",
            "out": args.out,
            "episodes": result.episodes,
            "best_validation_return": result.best_validation_return,
            "thresholds": result.policy.thresholds(),
            "wall_time_s": result.wall_time_s,
        }
        text = q_learning.summary(result)
    else:
        from agents import sb3

        _set_threads(args.threads)
        sb3_args = sb3.Args(algo=args.agent, n_timesteps=args.timesteps, obs_type=args.obs_type, **common)
        result_sb3 = sb3.train(sb3_args)
        summary = {
            "agent": args.agent,
            "out": args.out,
            "train_steps": result_sb3.train_steps,
            "wall_time_s": result_sb3.wall_time_s,
            "curve": result_sb3.curve,
        }
        text = f"{result_sb3.train_steps} steps in {result_sb3.wall_time_s:.1f} s"
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.agent} on {args.env} (seed {args.seed}): {text}; saved to {args.out}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agents.evaluation import evaluate_policy
    from agents.policy import POLICY_FILE, load_policy
    from sparq_gym.io import atomic_write_json, read_json

    # The first saved policy's environment fills every flag left out (--env included).
    saved: dict[str, Any] | None = None
    for spec in args.policy:
        if (Path(spec) / POLICY_FILE).exists():
            saved = read_json(Path(spec) / POLICY_FILE).get("env", {})
            break
    env_id = args.env or (saved or {}).get("env_id")
    if env_id is None:
        raise ValueError("pass --env ID (no saved policy among --policy records an environment)")
    config = _env_config(args, env_id, saved)
    results = []
    for spec in args.policy:
        policy = load_policy(spec, config, seed=args.seed)
        results.append(evaluate_policy(policy, config, args.split, name=spec))
    results.sort(key=lambda r: -r["mean_return"])
    payload: Any = results[0] if len(results) == 1 else results
    if args.out:
        atomic_write_json(args.out, payload)
    if args.json:
        from sparq_gym.io import json_safe

        print(json.dumps(json_safe(payload), indent=2, default=float))
        return 0
    print(
        f"{'#':>2} {'policy':32s} {'norm.score':>10s} {'return':>8s} {'accuracy':>9s} "
        f"{'savings':>8s} exits(%)"
    )
    for rank, r in enumerate(results, 1):
        exits = "/".join(f"{100 * f:.0f}" for f in r["exit_distribution"])
        print(
            f"{rank:2d} {r['policy'][:32]:32s} {r['normalized_score']:10.3f} {r['mean_return']:8.4f} "
            f"{100 * r['accuracy']:8.2f}% {r['mean_savings']:8.3f} {exits}"
        )
    return 0


def _run_bench_q_learning(args: argparse.Namespace) -> int:
    from agents.bench_q_learning import run

    return run(args)


def _run_benchmark(args: argparse.Namespace) -> int:
    from agents.benchmark import BenchmarkConfig, run_benchmark
    from sparq_gym.envs.registration import sparq_env_ids

    _set_threads(args.threads)
    cfg = BenchmarkConfig(
        out=args.out,
        envs=tuple(args.envs or sparq_env_ids()),
        seeds=tuple(args.seeds),
        agents=tuple(args.agents) if args.agents else None,
        extra_policies=tuple(args.policy),
        traces=args.traces or _ENV_DEFAULTS["traces"],
        quick=args.quick,
        sb3_timesteps=args.sb3_timesteps,
        plots=not args.no_plots,
        progress=not args.no_progress,
    )
    command = "sparq " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["benchmark"] else "sparq benchmark"
    record = run_benchmark(cfg, command=command)
    print(
        f"wrote {args.out}/leaderboard.md, results.csv, results.json"
        f"{', plots' if cfg.plots else ''} in {record['meta']['wall_time_s']:.1f} s"
    )
    return 0
