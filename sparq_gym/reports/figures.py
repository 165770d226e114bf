"""The report's figures: operations per variant (Figure 1) and classes across exits (Figure 2).

Both take a :func:`sparq_gym.reports.paper.build_report` result, draw with
matplotlib's Agg backend and write a PNG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparq_gym.io import atomic_path
from sparq_gym.reports.published import PAPER

__all__ = ["write_figure1", "write_figure2"]


def _save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def write_figure1(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Bar chart of MACs, synaptic ops and LIF ops per variant (log scale), paper ops as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["figure1"]
    labels = [r["variant"] for r in rows]
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(rows)), 4.2))
    for i, (key, name) in enumerate((("macs", "MACs"), ("synaptic_ops", "synaptic ops (AC)"),
                                     ("lif_ops", "LIF ops"))):
        values = np.array([max(r[key], 0.0) for r in rows])
        ax.bar(x + (i - 1) * width, np.where(values > 0, values, np.nan), width, label=name)
    paper = PAPER.get(str(report["backbone"]).lower(), {}).get("table1", {})
    marks = [paper.get(r["key"], (None, None))[1] for r in rows]
    if any(m is not None for m in marks):
        ax.scatter(x, [np.nan if m is None else m * 1e6 for m in marks], marker="x", color="k",
                   zorder=3, label="paper Table 1 ops")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("operations per image")
    ax.set_title(f"{report['backbone']}: operations per variant ({report['split']})")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    _save_figure(fig, path)
    return path


def write_figure2(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path | None:
    """Class distribution across exits of QDSNN Cfg 0.6/0.7: class share per exit, exits per class."""
    fig2 = report.get("figure2")
    if fig2 is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    composition = np.asarray(fig2["composition_pct"])  # (E, C)
    class_exit = np.asarray(fig2["class_exit_pct"])  # (C, E)
    names = fig2["class_names"]
    exits = fig2["exit_names"]
    n_exits, n_classes = composition.shape
    x = np.arange(n_classes)
    width = 0.8 / n_exits
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.2))
    ax = axes[0]
    for e in range(n_exits):
        ax.bar(x + (e - (n_exits - 1) / 2) * width, composition[e], width, label=exits[e])
    paper = fig2.get("paper_exit1_share_pct") or {}
    marks = [paper.get(name) for name in names]
    if any(m is not None for m in marks):
        ax.scatter(x - (n_exits - 1) / 2 * width, [np.nan if m is None else m for m in marks],
                   marker="x", color="k", zorder=3, label="paper exit 1")
    ax.axhline(100.0 / n_classes, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of the exit's samples (%)")
    ax.set_title("class share at each exit")
    ax.legend(fontsize=7)
    ax = axes[1]
    bottom = np.zeros(n_classes)
    for e in range(n_exits):
        ax.bar(x, class_exit[:, e], 0.7, bottom=bottom, label=exits[e])
        bottom += class_exit[:, e]
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("samples of the class (%)")
    ax.set_title("where each class exits")
    ax.legend(fontsize=7)
    fig.suptitle(f"{report['backbone']}: {fig2['variant']} ({report['split']})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    _save_figure(fig, path)
    return path
