"""The benchmark's figures: one panel per environment, written atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.benchmark.fronts import draw_accuracy_cost
from sparq_gym.io import atomic_path

__all__ = ["figure_panels", "write_plots"]


def _save_figure(figure: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def figure_panels(
    out: Path,
    filename: str,
    envs: Sequence[str],
    height: float,
    draw: Callable[[Any, str], None],
    legend: dict[str, Any] | None,
) -> str:
    """One PNG with a panel per environment: ``draw(ax, env_id)`` fills each; returns ``filename``.

    ``legend`` holds the keyword arguments of the legend of the last panel (``None``: the
    panels draw their own).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(envs)
    figure, axes = plt.subplots(1, n, figsize=(5.2 * n, height), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        draw(ax, env_id)
    if legend is not None:
        axes[0][-1].legend(**legend)
    figure.tight_layout()
    _save_figure(figure, out / filename)
    plt.close(figure)
    return filename


def _draw_exit_distribution(ax: Any, env_id: str, rows: list[dict[str, Any]]) -> None:
    """Exit distribution per class (the reference agent, seed of the first row): the head that answers."""
    candidates = [r for r in rows if r["env_id"] == env_id and r["policy"] == "q-learning"] or [
        r for r in rows if r["env_id"] == env_id and r["policy"] == "exact-optimum"
    ]
    if not candidates:
        return
    row = candidates[0]
    per_class = np.array(row["exit_distribution_per_class"])
    bottom = np.zeros(per_class.shape[0])
    names = row.get("exit_names") or [f"exit{e + 1}" for e in range(per_class.shape[1] - 1)] + ["final"]
    for e in range(per_class.shape[1]):
        ax.bar(np.arange(per_class.shape[0]), 100 * per_class[:, e], bottom=bottom, label=names[e])
        bottom += 100 * per_class[:, e]
    ax.set_xlabel("class")
    ax.set_ylabel("samples leaving at each exit (%)")
    ax.set_title(f"{env_id}: {row['policy']} (seed {row['seed']})")
    ax.set_xticks(np.arange(per_class.shape[0]))


def _draw_learning_curves(ax: Any, env_id: str, curves: dict[tuple[str, str, int], Any]) -> None:
    """Learning curves: mean over seeds of the validation return, per agent."""
    agents = dict.fromkeys(agent for (env, agent, _), c in curves.items() if env == env_id and c)
    for agent in agents:
        runs = [c for (env, a, _), c in curves.items() if env == env_id and a == agent and c]
        length = min(len(c) for c in runs)
        x = np.mean([[p["x"] for p in c[:length]] for c in runs], axis=0)
        y = np.array([[p["validation_return"] for p in c[:length]] for c in runs])
        ax.plot(x, y.mean(axis=0), lw=1.2, label=f"{agent} ({len(runs)} seeds)")
        ax.fill_between(x, y.min(axis=0), y.max(axis=0), alpha=0.15)
    ax.set_xlabel("training steps (decisions)")
    ax.set_ylabel("validation return")
    ax.set_title(env_id)
    if agents:
        ax.legend(fontsize=7)


def write_plots(
    out: Path,
    rows: list[dict[str, Any]],
    aggregate: list[dict[str, Any]],
    fronts: dict[str, Any],
    curves: dict[tuple[str, str, int], Any],
    envs: Sequence[str],
) -> list[str]:
    """Write ``accuracy_cost.png``, ``exit_distribution.png`` and ``learning_curves.png`` into
    ``out``; return their names."""
    return [
        figure_panels(
            out, "accuracy_cost.png", envs, 4.4,
            lambda ax, env_id: draw_accuracy_cost(ax, env_id, aggregate, fronts[env_id]),
            {"fontsize": 7, "loc": "lower right"},
        ),
        figure_panels(
            out, "exit_distribution.png", envs, 3.8,
            lambda ax, env_id: _draw_exit_distribution(ax, env_id, rows), {"fontsize": 8},
        ),
        figure_panels(
            out, "learning_curves.png", envs, 3.8,
            lambda ax, env_id: _draw_learning_curves(ax, env_id, curves), None,
        ),
    ]
