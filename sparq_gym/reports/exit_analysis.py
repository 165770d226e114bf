"""Where an exit rule sends the samples: the accuracy it costs per exit, and the classes per exit.

:func:`exit_accuracy_cost` explains a QDSNN row's accuracy against the QSNN's
(the report's "where the early exits lose accuracy"); :func:`exit_class_distribution`
is the data of the paper's Figure 2 (§3.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.traces import TraceSet

__all__ = ["exit_accuracy_cost", "exit_class_distribution"]


def exit_accuracy_cost(traces: TraceSet, exits: NDArray[np.int64]) -> list[dict[str, Any]]:
    """Where an exit rule loses accuracy against always taking the final head, per early exit.

    For each early exit k: ``share`` of the samples that leave there, the
    accuracy on them of head k (``head_accuracy``) and of the final head
    (``final_accuracy``), head k's mean confidence on them, and
    ``points_lost = share * (final_accuracy - head_accuracy)``. The points lost
    add up exactly to (accuracy of the final head) - (accuracy of the rule), i.e.
    QSNN - QDSNN for the ``qdsnn`` traces. Accuracies in %; ``None`` where no
    sample leaves at k.
    """
    exits = np.asarray(exits, dtype=np.int64)
    correct = traces.correct()
    confidence = traces.confidence()
    n = max(traces.n_samples, 1)
    rows = []
    for k in range(traces.n_exits - 1):
        leaving = exits == k
        count = int(leaving.sum())
        head = 100.0 * float(correct[leaving, k].mean()) if count else None
        final = 100.0 * float(correct[leaving, -1].mean()) if count else None
        rows.append({
            "exit": k,
            "share": count / n,
            "head_accuracy": head,
            "final_accuracy": final,
            "mean_confidence": float(confidence[leaving, k].mean()) if count else None,
            "points_lost": 100.0 * float(correct[leaving, -1].sum() - correct[leaving, k].sum()) / n,
        })
    return rows


def exit_class_distribution(traces: TraceSet, exits: NDArray[np.int64]) -> dict[str, Any]:
    """Class composition of every exit and exit distribution of every class (Figure 2).

    Returns ``exit_names``, ``class_names`` (the traces' ``meta["class_names"]``
    or the class indices), ``counts`` ``(E, C)``, ``composition_pct`` ``(E, C)``
    (the class's share of the samples leaving at an exit) and
    ``class_exit_pct`` ``(C, E)`` (where the class's samples leave).
    """
    n_classes, n_exits = traces.n_classes, traces.n_exits
    counts = np.zeros((n_exits, n_classes))
    np.add.at(counts, (exits, traces.labels.astype(np.int64)), 1.0)
    per_exit = counts.sum(axis=1, keepdims=True)
    per_class = counts.sum(axis=0, keepdims=True)
    names = traces.meta.get("class_names") or [str(c) for c in range(n_classes)]
    return {
        "exit_names": list(traces.exit_names),
        "class_names": [str(c) for c in names],
        "counts": counts.astype(int).tolist(),
        "composition_pct": (100.0 * counts / np.maximum(per_exit, 1.0)).tolist(),
        "class_exit_pct": (100.0 * counts / np.maximum(per_class, 1.0)).T.tolist(),
    }
