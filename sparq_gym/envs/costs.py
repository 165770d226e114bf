"""What a path through the network costs: the ``cost`` argument of the environments.

A cost turns the raw counters of a trace into one number per (sample, exit)
and one per sample for the plain network; savings are ``1 - C_exit / C_full``.

=================== ===========================================================
``cost``            meaning
=================== ===========================================================
``"total_ops"``     spec §5's total ops, ``synaptic_ops + lif_ops`` (default;
                    the paper's Table 3 "total ops"). For traces of an ANN,
                    which has neither, it is ``macs``
                    (:func:`sparq_gym.traces.costs.total_ops`).
a counter name      one raw counter, e.g. ``"synaptic_ops"``, ``"macs"``,
                    ``"mem_bytes"``
``"energy:NAME"``   joules under an energy model of :mod:`sparq_gym.energy`,
                    e.g. ``"energy:sparq"`` (which also prices the MACs of a
                    spiking network's analog first layer)
=================== ===========================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.traces import COUNTER_NAMES, TraceSet
from sparq_gym.traces.costs import (
    ANN_OPS_COUNTER as ANN_OPS_COUNTER,
)
from sparq_gym.traces.costs import (
    TOTAL_OPS_COUNTERS as TOTAL_OPS_COUNTERS,
)
from sparq_gym.traces.costs import is_ann_counts, total_ops

__all__ = ["ANN_OPS_COUNTER", "TOTAL_OPS_COUNTERS", "cost_names", "resolve_cost"]


def cost_names() -> list[str]:
    """Every accepted ``cost`` value (energy models included when available)."""
    names = ["total_ops", *COUNTER_NAMES]
    try:
        from sparq_gym.energy import ENERGY_MODEL_NAMES
    except ImportError:  # energy models are optional for the environments
        return names
    return names + [f"energy:{name}" for name in ENERGY_MODEL_NAMES]


def path_cost(counts: Any, traces: Any, cost: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(cost of counts (N, ...), cost of the plain network (N,))`` of a trace set under ``cost``:
    the one pricing rule of every family. ``counts`` are counter vectors (..., K) of the trace
    set's samples (v0: each exit's path; depth x time: each state's path); ``traces`` gives the
    plain network's counts, the counter names and the metadata (a ``TraceSet`` or a
    ``TimeTraceSet``). ``"total_ops"`` decides the ANN rule once, on the plain network
    (:func:`~sparq_gym.traces.costs.total_ops`); a counter name prices that counter;
    ``"energy:NAME"`` an energy model's joules."""
    if not isinstance(cost, str):
        raise ValueError(f"cost must be a string such as 'total_ops', got {cost!r}")
    names, full = traces.counter_names, traces.full_counts
    if cost == "total_ops":  # one decision for the whole trace set, taken on the full network
        ann = is_ann_counts(full, names)
        return total_ops(counts, names, ann=ann), total_ops(full, names, ann=ann)
    if cost in names:
        column = list(names).index(cost)
        return np.asarray(counts)[..., column].astype(np.float64), full[:, column].astype(np.float64)
    if cost.startswith("energy:"):
        from sparq_gym.energy import get_energy_model

        model = get_energy_model(cost.removeprefix("energy:"))
        return (
            np.asarray(model.energy_joules(counts, names, traces.meta), dtype=np.float64),
            np.asarray(model.energy_joules(full, names, traces.meta), dtype=np.float64),
        )
    raise ValueError(f"unknown cost {cost!r}; expected one of {cost_names()}")


def resolve_cost(traces: TraceSet, cost: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(exit_cost (N, E), full_cost (N,))`` of ``traces`` under ``cost`` (:func:`path_cost`
    of each exit's counts)."""
    return path_cost(traces.exit_counts, traces, cost)


def check_full_cost(full_cost: NDArray[np.float64], cost: str, full_counts: NDArray[np.int64],
                    counter_names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` when ``cost`` is zero for the plain network on some sample (savings
    ``1 - C / C_full`` are then undefined), saying why when the traces are an ANN's."""
    if not np.any(full_cost <= 0):
        return
    why = ""
    if is_ann_counts(full_counts, counter_names):
        why = (" (these are an ANN's traces: an ANN has no spikes, synaptic or LIF operations; use "
               "cost='total_ops', its MACs, or cost='macs')")
    raise ValueError(f"cost {cost!r} is zero for the plain network on some samples{why}; savings undefined")
