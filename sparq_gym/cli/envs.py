"""Sub-commands ``sparq envs`` and ``sparq bench-env``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["describe_envs", "register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``envs`` and ``bench-env`` to the ``sparq`` command."""
    envs = subparsers.add_parser("envs", help="list the registered SPARQ environments")
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    envs.set_defaults(handler=_run_envs)

    bench = subparsers.add_parser("bench-env", help="steps per second against CartPole, in one run")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--steps", type=int, default=100_000, help="steps per repeat for single envs")
    bench.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median kept)")
    bench.add_argument("--seed", type=int, default=0)
    bench.set_defaults(handler=_run_bench)


def describe_envs() -> list[dict[str, Any]]:
    """One record per registered backbone id: backbone, dataset, exits, accuracies, trace status."""
    from sparq_gym.envs.registration import ENV_TABLE
    from sparq_gym.paths import trace_dir
    from sparq_gym.traces import load_manifest

    rows = []
    for entry in ENV_TABLE:
        directory = trace_dir(entry.backbone)
        row: dict[str, Any] = {
            "id": entry.env_id,
            "backbone": entry.backbone,
            "dataset": entry.dataset,
        }
        if (directory / "manifest.json").exists():
            manifest = load_manifest(directory)
            row["exits"] = manifest.get("exit_names")
            row["splits"] = {
                split: {"n_samples": s["n_samples"], "accuracy_per_exit": s["accuracy_per_exit"]}
                for split, s in manifest.get("splits", {}).items()
            }
            row["traces"] = str(directory)
        else:
            row["exits"] = None
            row["traces"] = f"missing: build with `sparq backbone pipeline {entry.backbone}`"
        rows.append(row)
    return rows


def _run_envs(args: argparse.Namespace) -> int:
    rows = describe_envs()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':24s} {'backbone':9s} {'dataset':9s} exits / test accuracy per exit")
    for row in rows:
        if row["exits"] is None:
            detail = row["traces"]
        else:
            test = row["splits"].get("test", {})
            accs = test.get("accuracy_per_exit", [])
            detail = ", ".join(f"{n} {100 * a:.2f}%" for n, a in zip(row["exits"], accs))
        print(f"{row['id']:24s} {row['backbone']:9s} {row['dataset']:9s} {detail}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from sparq_gym.reports.bench_env import BenchConfig, benchmark_envs, format_table

    config = BenchConfig(single_steps=args.steps, repeats=args.repeats, seed=args.seed)
    result = benchmark_envs(config, progress=lambda msg: print(msg, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
