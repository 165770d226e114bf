"""Accuracy-cost fronts of the threshold families, and the accuracy-cost plot of the benchmark.

Each environment gets the points of a family of threshold policies evaluated on ``test``
and their Pareto front (the points no other one beats on both axes: more accurate and
cheaper). A front is a picture of the trade-off, not a tuned policy (tuned ones are
chosen on ``train``):

* v0: every static threshold pair ``(theta_1, theta_2)`` on the multiples of 1/B;
* depth x time: **depth-only** (the same pairs after WAITing to T at head 0, spec §9's
  v0 policies at t = T) and **time-only** (SEENN-I: the final head at t = 1, EXIT when
  its confidence reaches theta, for every theta); the plot adds the front of every ranked
  policy (learned and tuned), the **depth x time** front.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from agents.common import EnvConfig
from agents.evaluation import evaluate_places, total_ops_table
from agents.policy import TablePolicy, decide_places, format_thresholds
from agents.references.baselines import threshold_policy

__all__ = ["accuracy_cost_fronts", "draw_accuracy_cost", "pareto_front"]


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other beats on both axes (``mean_total_ops`` lower, ``accuracy`` higher)."""
    front, best = [], -1.0
    for point in sorted(points, key=lambda p: (p["mean_total_ops"], -p["accuracy"])):
        if point["accuracy"] > best:
            front.append(point)
            best = point["accuracy"]
    return front


def accuracy_cost_fronts(config: EnvConfig, split: str = "test") -> dict[str, Any]:
    """``{curve name: {"points": [...], "front": [...]}}`` of ``config``'s threshold families on
    ``split``; each point holds ``policy`` (its thresholds), ``accuracy`` and ``mean_total_ops``."""
    decisions = config.decisions(split, "multidiscrete")
    meta = dict(config.load_traces(split).meta)
    path_ops = total_ops_table(config, split)
    n_bins = config.settings.n_bins
    grid = [j / n_bins for j in range(n_bins + 1)]
    curves: dict[str, list[tuple[str, TablePolicy]]] = {}
    n_early = decisions.n_heads - 1
    pairs = [threshold_policy(combo, n_bins) for combo in itertools.product(grid, repeat=n_early)]
    if config.family.name == "exit":
        curves["threshold pairs"] = [(format_thresholds(p.thresholds()), p) for p in pairs]
    else:
        from agents.references import time_thresholds as tt

        tables = config.tables(split, "multidiscrete")
        depth = []
        for pair in pairs:
            table = tt.always_final_table(tables)
            table[:-1, -1, :] = np.where(pair.actions == 1, tt.EXIT, tt.CONTINUE)
            depth.append((format_thresholds(pair.thresholds()), TablePolicy(table)))
        curves["depth-only"] = depth
        curves["time-only"] = [
            (f"theta {theta:g}", TablePolicy(tt.time_only_table(tables, theta))) for theta in grid
        ]
    result = {}
    for name, policies in curves.items():
        points = []
        for label, policy in policies:
            metrics = evaluate_places(decisions, decide_places(policy, decisions)[0], meta, path_ops)
            points.append(
                {
                    "policy": label,
                    "accuracy": metrics["accuracy"],
                    "mean_total_ops": metrics["mean_total_ops"],
                }
            )
        result[name] = {"points": points, "front": pareto_front(points)}
    return result


def draw_accuracy_cost(ax: Any, env_id: str, aggregate: list[dict[str, Any]], fronts: dict[str, Any]) -> None:
    """Accuracy vs cost on one panel: every front of ``fronts`` and every policy of ``env_id``."""
    import matplotlib.pyplot as plt

    colors = [plt.get_cmap("tab20")(i) for i in range(20)]
    style = {name: i for i, name in enumerate(dict.fromkeys(r["policy"] for r in aggregate))}
    shades = {"threshold pairs": "0.4", "depth-only": "tab:blue", "time-only": "tab:orange"}
    for name, curve in fronts.items():
        color = shades.get(name, "0.4")
        ax.scatter(
            [p["mean_total_ops"] for p in curve["points"]],
            [100 * p["accuracy"] for p in curve["points"]],
            s=6,
            color=color,
            alpha=0.25,
        )
        ax.plot(
            [p["mean_total_ops"] for p in curve["front"]],
            [100 * p["accuracy"] for p in curve["front"]],
            color=color,
            lw=1,
            label=f"{name} front",
        )
    rows = [r for r in aggregate if r["env_id"] == env_id]
    if env_id.startswith("SPARQDepthTime") and rows:
        ranked = pareto_front(
            [
                {"policy": r["policy"], "accuracy": r["accuracy"], "mean_total_ops": r["mean_total_ops"]}
                for r in rows
                if r["policy"] != "oracle"
            ]
        )
        ax.plot(
            [p["mean_total_ops"] for p in ranked],
            [100 * p["accuracy"] for p in ranked],
            color="tab:green",
            lw=1.2,
            ls="--",
            label="depth x time front (ranked policies)",
        )
    for r in rows:
        i = style[r["policy"]]  # the same marker and colour for a policy in every panel
        ax.scatter(
            r["mean_total_ops"],
            100 * r["accuracy"],
            marker="os^Dv<>p"[i % 8],
            color=colors[(2 * i) % 20 + (i // 10) % 2],
            s=40,
            label=r["policy"],
            zorder=3,
        )
    ax.set_xlabel("mean total ops per sample")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(env_id)
