"""Sub-commands ``sparq train``, ``sparq evaluate``, ``sparq benchmark`` and ``sparq bench-q-learning``.

::

    sparq train q-learning --env SPARQExit-LeNet-v0 --seed 0 --out runs/ql-lenet-0
    sparq evaluate --env SPARQExit-LeNet-v0 --policy runs/ql-lenet-0 --split test --json
    sparq evaluate --env SPARQExit-LeNet-v0 --policy cfg-0.6-0.7 --policy my_policy.py:Policy
    sparq benchmark --quick --out runs/benchmark

``--traces synthetic`` runs everything on synthetic traces shaped like the
backbone, and only then: the default ``auto`` uses the shipped traces, and a
missing or broken shipped folder is an error that names it. Every expected
error is one line on stderr (:func:`sparq_gym.cli.main.main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from agents.benchmark.bench_q_learning import add_arguments as add_bench_q_learning_arguments
from agents.common import TRACE_SOURCES, add_env_arguments, env_config_from_arguments
from agents.integrations.ray_runner import add_ray_argument
from sparq_gym.checks import check_file, check_integer, check_number, check_writable_folder
from sparq_gym.errors import ConfigError
from sparq_gym.io import check_output_dir, check_output_file

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train``, ``evaluate``, ``benchmark`` and ``bench-q-learning`` to the ``sparq`` command."""
    train = subparsers.add_parser(
        "train", help="train an exit policy (q-learning, dqn, ppo, maskable-ppo) on any environment id"
    )
    train.add_argument("agent", choices=("q-learning", "dqn", "ppo", "maskable-ppo"))
    add_env_arguments(train)
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
    train.add_argument(
        "--timesteps", type=int, default=None, help="DQN/PPO/MaskablePPO: training steps (YAML default)"
    )
    train.add_argument(
        "--obs-type",
        default=None,
        choices=("multidiscrete", "box"),
        help="DQN/PPO/MaskablePPO observation (YAML default)",
    )
    train.add_argument("--threads", type=int, default=1, help="torch threads for DQN/PPO/MaskablePPO")
    train.add_argument(
        "--hyperparams", default=None, metavar="YML",
        help="DQN/PPO/MaskablePPO: an RL Zoo hyperparameter file (default agents/hyperparams/<algo>.yml)",
    )
    train.add_argument(
        "--tensorboard", default=None, metavar="DIR", help="write TensorBoard logs to DIR/<agent>_<n>"
    )
    train.add_argument("--json", action="store_true", help="print a JSON summary")
    train.set_defaults(handler=_run_train)

    _register_evaluate(subparsers)
    _register_benchmark(subparsers)

    bench_q = subparsers.add_parser(
        "bench-q-learning", help="time 10,000 Q-learning episodes against a gym.make reference"
    )
    add_bench_q_learning_arguments(bench_q)
    bench_q.set_defaults(handler=_run_bench_q_learning)


def _register_evaluate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = subparsers.add_parser("evaluate", help="evaluate policies on every sample of a split")
    add_env_arguments(evaluate, env_required=False)
    evaluate.add_argument(
        "--policy",
        action="append",
        required=True,
        help="saved policy dir, SB3 / RL Zoo model .zip, baseline name, module:Name or file.py[:Name] "
        "(repeatable)",
    )
    evaluate.add_argument("--split", default="test", choices=("train", "test"))
    evaluate.add_argument(
        "--optimum-seconds", type=float, default=None,
        help="depth x time: time limit of the exact-optimum MILP (the score's upper anchor; default 10, "
             "past it the best known table stands in)",
    )
    evaluate.add_argument(
        "--vecnormalize",
        default=None,
        metavar="PKL",
        help="VecNormalize statistics of a model zip (default: vecnormalize.pkl beside it, "
        "as RL Zoo saves it)",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of stochastic policies")
    evaluate.add_argument("--json", action="store_true", help="print JSON (one object, or a list)")
    evaluate.add_argument("--out", default=None, help="also write the JSON to this file")
    evaluate.set_defaults(handler=_run_evaluate)


def _register_benchmark(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser("benchmark", help="every policy x environment x seed -> leaderboard")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="SB3 agents trained for 5,000 steps, 3 seeds, 200 bootstrap reps, no MILP (under two minutes)",
    )
    bench.add_argument("--out", required=True, help="output directory")
    bench.add_argument(
        "--envs",
        nargs="+",
        default=None,
        help="environment ids, any registered one (default: the six shipped: SPARQExit-* and "
        "SPARQDepthTime-*)",
    )
    bench.add_argument(
        "--trace-dir", default=None, help="your trace folder, for the generic ids among --envs"
    )
    bench.add_argument(
        "--optimum-seconds",
        type=float,
        default=None,
        help="time limit of the depth x time exact-optimum MILP per environment (600; "
        "--quick 0: "
        "the best known table stands in, as the leaderboard says)",
    )
    bench.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="seeds (default: 0-4; with --quick 0-2)"
    )
    bench.add_argument(
        "--bootstrap-reps", type=int, default=None, help="rliable bootstrap replications (2000; --quick 200)"
    )
    bench.add_argument(
        "--agents",
        nargs="+",
        default=None,
        help="subset of: q-learning q-learning-gamma1 dqn ppo maskable-ppo (default: all; maskable-ppo "
        "where the family has action masks)",
    )
    bench.add_argument("--policy", action="append", default=[], help="add your own policy (repeatable)")
    bench.add_argument("--traces", default=TRACE_SOURCES[0], choices=TRACE_SOURCES)
    bench.add_argument(
        "--networks",
        nargs="+",
        default=None,
        help="network variants to rank policies on (default: qdsnn; also multilevel, "
        "spquant, snn, dynamic_ann); each is its own leaderboard section",
    )
    bench.add_argument("--sb3-timesteps", type=int, default=None, help="override the DQN/PPO budget")
    bench.add_argument("--threads", type=int, default=1, help="torch threads per run for the SB3 agents")
    bench.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs in parallel, in local processes (default: one per CPU core; 1: serial)",
    )
    bench.add_argument("--no-plots", action="store_true")
    bench.add_argument("--no-progress", action="store_true")
    add_ray_argument(bench)
    bench.set_defaults(handler=_run_benchmark)


_AGENT_ONLY_FLAGS: dict[str, tuple[str, ...]] = {
    "q-learning": ("gamma", "episodes", "early_stopping_on"),
    "sb3": ("timesteps", "obs_type", "hyperparams"),
}
"""Flags of ``sparq train`` that only one kind of agent reads (given to another, an error)."""


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(check_integer("--threads", threads, 1, 1024))


def _check_agent_flags(args: argparse.Namespace) -> None:
    """Refuse a flag the chosen agent would ignore (``--gamma`` for PPO, ``--timesteps`` for Q-learning)."""
    kind = "q-learning" if args.agent == "q-learning" else "sb3"
    for other, names in _AGENT_ONLY_FLAGS.items():
        for name in names:
            if other != kind and getattr(args, name) is not None:
                flag = "--" + name.replace("_", "-")
                owner = "dqn, ppo and maskable-ppo" if other == "sb3" else other
                value = getattr(args, name)
                raise ConfigError(f"{flag} {value!r}: applies to {owner} only, not to {args.agent}")


def _run_train(args: argparse.Namespace) -> int:
    _check_agent_flags(args)
    check_output_dir(args.out)  # before the work starts
    if args.tensorboard is not None:
        check_writable_folder("--tensorboard", args.tensorboard)
    if args.agent != "q-learning":  # the hyperparameter file, read and checked before the work
        from agents.learners.sb3 import load_hyperparams

        given = check_file("--hyperparams", args.hyperparams) if args.hyperparams else None
        load_hyperparams(args.env or "", args.agent, given)
    config = env_config_from_arguments(args)
    if args.agent == "q-learning":
        from agents.learners import q_learning

        overrides = {"gamma": args.gamma, "early_stopping_on": args.early_stopping_on}
        q_args = q_learning.Args.for_env(
            config, seed=args.seed, out=args.out, **{k: v for k, v in overrides.items() if v is not None}
        )
        if args.episodes is not None:
            q_args = q_args.with_budget(args.episodes)
        result = q_learning.train(q_args, config)
        record, text = q_learning.summary_record(result), q_learning.summary(result)
        if args.tensorboard:
            from agents.integrations.tensorboard import write_curve

            write_curve(args.tensorboard, "q-learning", result.curve)
    else:
        from agents.learners import sb3

        _set_threads(args.threads)
        sb3_args = sb3.Args.for_env(
            config,
            algo=args.agent,
            seed=args.seed,
            out=args.out,
            n_timesteps=args.timesteps,
            obs_type=args.obs_type,
            tensorboard=args.tensorboard,
            hyperparams_file=args.hyperparams,
        )
        result_sb3 = sb3.train(sb3_args, config)
        record, text = sb3.summary_record(result_sb3), sb3.summary(result_sb3)
    if args.json:
        print(json.dumps({"agent": args.agent, "out": args.out, **record}, indent=2))
    else:
        print(f"{args.agent} on {args.env} (seed {args.seed}): {text}; saved to {args.out}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from agents.evaluation import evaluate_specs, format_ranking
    from agents.loading import saved_env_record
    from sparq_gym.io import atomic_write_json, json_safe

    if args.out:
        check_output_file(args.out)  # before the work starts
    # The first saved policy's environment fills every flag left out (--env included).
    config = env_config_from_arguments(args, saved_env_record(args.policy))
    if args.optimum_seconds is not None:
        seconds = check_number("--optimum-seconds", args.optimum_seconds, 0)
        config = dataclasses.replace(config, optimum_seconds=seconds)
    if args.vecnormalize is not None:
        if not any(spec.endswith(".zip") for spec in args.policy):
            raise ConfigError(
                f"--vecnormalize {args.vecnormalize}: applies to a model .zip, and no --policy is one"
            )
        check_file("--vecnormalize", args.vecnormalize)
    results = evaluate_specs(args.policy, config, args.split, seed=args.seed, vecnormalize=args.vecnormalize)
    payload: Any = results[0] if len(results) == 1 else results
    if args.out:
        atomic_write_json(args.out, payload)
    if args.json:
        print(json.dumps(json_safe(payload), indent=2, default=float))
    else:
        print(format_ranking(results))
    return 0


def _run_bench_q_learning(args: argparse.Namespace) -> int:
    from agents.benchmark.bench_q_learning import run

    return run(args)


def _run_benchmark(args: argparse.Namespace) -> int:
    from agents.benchmark.run import FULL_SEEDS, QUICK_SEEDS, BenchmarkConfig, run_benchmark
    from sparq_gym.envs.families import shipped_env_ids

    cfg = BenchmarkConfig(
        out=args.out,
        envs=tuple(args.envs or shipped_env_ids()),
        trace_dir=args.trace_dir,
        optimum_seconds=args.optimum_seconds,
        seeds=tuple(args.seeds) if args.seeds else (QUICK_SEEDS if args.quick else FULL_SEEDS),
        bootstrap_reps=args.bootstrap_reps,
        agents=tuple(args.agents) if args.agents else None,
        extra_policies=tuple(args.policy),
        traces=args.traces,
        quick=args.quick,
        sb3_timesteps=args.sb3_timesteps,
        plots=not args.no_plots,
        progress=not args.no_progress,
        ray=args.ray,
        jobs=args.jobs,
        **({"networks": tuple(args.networks)} if args.networks else {}),
    )
    _set_threads(args.threads)
    command = "sparq " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["benchmark"] else "sparq benchmark"
    record = run_benchmark(cfg, command=command)
    print(
        f"wrote {args.out}/leaderboard.md, results.csv, results.json"
        f"{', plots' if cfg.plots else ''} in {record['meta']['wall_time_s']:.1f} s"
    )
    return 0
