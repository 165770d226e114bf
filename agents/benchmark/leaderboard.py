"""The benchmark's tables: the aggregate over seeds, ``leaderboard.md`` and ``results.csv``.

Each environment x policy row holds the mean ± std over seeds of every metric and
the ``rliable`` statistics of the normalized score (:mod:`agents.benchmark.statistics`):
IQM with its 95 % stratified-bootstrap CI and the probability of improvement
over the paper's Q-learner.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from agents.benchmark.statistics import REFERENCE_AGENT
from sparq_gym.io import atomic_write_text

__all__ = ["METRICS", "aggregate_runs", "leaderboard_markdown", "write_csv"]

METRICS: tuple[str, ...] = (
    "normalized_score",
    "mean_return",
    "accuracy",
    "mean_savings",
    "mean_synaptic_ops",
    "mean_total_ops",
    "mean_energy_j",
)


def aggregate_runs(rows: list[dict[str, Any]], rliable: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per environment x policy: mean and std over seeds, and the ``rliable`` statistics.

    ``rliable`` is ``rliable_statistics(...)["per_env"]``; rows are ranked by mean normalized score.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["env_id"], row["policy"]), []).append(row)
    table = []
    for (env_id, policy), members in groups.items():
        record: dict[str, Any] = {"env_id": env_id, "policy": policy, "n_seeds": len(members)}
        for key in METRICS:
            values = np.array([m[key] for m in members], dtype=float)
            record[key] = float(np.mean(values))
            record[f"{key}_std"] = float(np.std(values))
        record["exit_distribution"] = np.mean([m["exit_distribution"] for m in members], axis=0).tolist()
        record["mean_head"] = float(np.mean([m["mean_head"] for m in members]))
        times = [m["mean_timesteps"] for m in members if m.get("mean_timesteps") is not None]
        record["mean_timesteps"] = float(np.mean(times)) if times else None
        record["invalid_actions"] = float(np.mean([m.get("invalid_actions", 0) for m in members]))
        steps = [float(m["train_steps"]) for m in members if m.get("train_steps") is not None]
        walls = [float(m["wall_time_s"]) for m in members if m.get("wall_time_s") is not None]
        record["train_steps"] = float(np.mean(steps)) if steps else None
        record["wall_time_s"] = float(np.mean(walls)) if walls else None
        record["thresholds_text"] = members[0].get("thresholds_text")
        record["traces"] = members[0]["traces"]
        record["network"] = members[0].get("network", "qdsnn")
        stats = rliable.get(env_id, {}).get(policy, {})
        record["iqm"] = stats.get("iqm")
        record["iqm_ci_low"], record["iqm_ci_high"] = stats.get("iqm_ci", (None, None))
        record["probability_of_improvement"] = stats.get("probability_of_improvement")
        record["probability_of_improvement_ci"] = stats.get("probability_of_improvement_ci")
        table.append(record)
    env_order = {env_id: i for i, env_id in enumerate(dict.fromkeys(r["env_id"] for r in rows))}
    table.sort(key=lambda r: (env_order[r["env_id"]], -np.nan_to_num(r["normalized_score"], nan=-1e9)))
    return table


def leaderboard_markdown(
    aggregate: list[dict[str, Any]], meta: dict[str, Any], statistics: dict[str, Any]
) -> str:
    """``leaderboard.md``: one table per environment, then the statistics across environments."""
    lines = [
        "# sparq_gym leaderboard",
        "",
        f"Command: `{meta['command']}`. Evaluation: every `test` sample once. Normalized score = "
        "(R - R_always-final) / (R_exact-optimum - R_always-final) with each family's anchors, stated "
        "per environment: always-final is the plain network's path (depth x time: WAIT to T, then the "
        "final head), exact-optimum the best tabular policy found on `train` (its status says whether "
        "it is proven). "
        f"Learning agents: mean ± std over seeds {list(meta['seeds'])}"
        f"{' (--quick: 3 seeds; the full run uses 5)' if meta['config'].get('quick') else ''}; "
        f"IQM [95 % stratified-bootstrap CI, {statistics['reps']} reps] and P(> {statistics['reference']}): "
        "the probability that a run of the policy beats a run of the paper's Q-learner (rliable).",
        "",
    ]
    for env_id in dict.fromkeys(r["env_id"] for r in aggregate):
        rows = [r for r in aggregate if r["env_id"] == env_id]
        anchors = meta.get("anchors", {}).get(env_id)
        lines += [
            f"## {env_id} (traces: {rows[0]['traces']}; network: {rows[0].get('network', 'qdsnn')})",
            "",
        ]
        if anchors:
            lines += [
                f"Anchors on `test`: always-final {anchors['always_final']:.4f}, exact-optimum "
                f"{anchors['exact_optimum']:.4f} (`train` {anchors['exact_optimum_train']:.4f}; "
                f"{anchors.get('exact_optimum_status', 'optimal')}).",
                "",
            ]
        lines += [
            "| # | policy | norm. score | return | accuracy | savings | total ops | energy (µJ) "
            "| heads (%) | mean t | thresholds | train steps | train wall (s) | IQM [95 % CI] "
            "| P(> q-learning) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rank, r in enumerate(rows, 1):
            std = f" ± {r['normalized_score_std']:.3f}" if r["n_seeds"] > 1 else ""
            exits = "/".join(f"{100 * f:.0f}" for f in r["exit_distribution"])
            train = "" if r["train_steps"] is None else f"{r['train_steps']:.0f}"
            wall = "" if r["wall_time_s"] is None else f"{r['wall_time_s']:.2f}"
            lines.append(
                f"| {rank} | {r['policy']} | {r['normalized_score']:.3f}{std} | {r['mean_return']:.4f} "
                f"| {100 * r['accuracy']:.2f}% | {r['mean_savings']:.3f} | {r['mean_total_ops']:.4g} "
                f"| {1e6 * r['mean_energy_j']:.4g} | {exits} "
                f"| {'' if r.get('mean_timesteps') is None else format(r['mean_timesteps'], '.2f')} "
                f"| {r['thresholds_text'] or ''} "
                f"| {train} | {wall} | {_iqm_text(r)} | {_improvement_text(r)} |"
            )
        lines.append("")
    return "\n".join(lines + _overall_lines(statistics))


def _iqm_text(stats: dict[str, Any]) -> str:
    if stats.get("iqm") is None:
        return ""
    low, high = stats["iqm_ci"] if "iqm_ci" in stats else (stats["iqm_ci_low"], stats["iqm_ci_high"])
    return f"{stats['iqm']:.3f} [{low:.3f}, {high:.3f}]"


def _improvement_text(stats: dict[str, Any]) -> str:
    if stats.get("probability_of_improvement") is None:
        return ""
    low, high = stats["probability_of_improvement_ci"]
    return f"{stats['probability_of_improvement']:.2f} [{low:.2f}, {high:.2f}]"


def _overall_lines(statistics: dict[str, Any]) -> list[str]:
    """The table across environments (policies run on every one), ranked by IQM."""
    overall = statistics.get("overall") or {}
    if not overall:
        return []
    lines = [
        "## Across environments (rliable)",
        "",
        f"Normalized score of every run on every environment; P(> {REFERENCE_AGENT}) averages the "
        "per-environment probabilities of improvement. See performance_profile.png.",
        "",
        f"| # | policy | runs | IQM [95 % CI] | P(> {REFERENCE_AGENT}) [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    ranked = sorted(overall.items(), key=lambda item: -item[1]["iqm"])
    for rank, (policy, stats) in enumerate(ranked, 1):
        lines.append(
            f"| {rank} | {policy} | {stats['n_runs']} | {_iqm_text(stats)} | {_improvement_text(stats)} |"
        )
    return [*lines, ""]


def write_csv(path: Path, aggregate: list[dict[str, Any]]) -> None:
    """``results.csv``: the aggregate, one row per environment x policy."""
    columns = [
        "env_id",
        "policy",
        "n_seeds",
        *[k for m in METRICS for k in (m, f"{m}_std")],
        "iqm", "iqm_ci_low", "iqm_ci_high", "probability_of_improvement",
        "exit_distribution",
        "mean_head",
        "mean_timesteps",
        "thresholds_text",
        "train_steps",
        "wall_time_s",
        "traces",
        "network",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in aggregate:
        writer.writerow({**row, "exit_distribution": " ".join(f"{f:.4f}" for f in row["exit_distribution"])})
    atomic_write_text(path, buffer.getvalue())
