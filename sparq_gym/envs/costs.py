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


def resolve_cost(traces: TraceSet, cost: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(exit_cost (N, E), full_cost (N,))`` of ``traces`` under ``cost``."""
    if not isinstance(cost, str):
        raise ValueError(f"cost must be a string such as 'total_ops', got {cost!r}")
    names = traces.counter_names
    if cost == "total_ops":  # one decision for the whole trace set, taken on the full network
        ann = is_ann_counts(traces.full_counts, names)
        return total_ops(traces.exit_counts, names, ann=ann), total_ops(traces.full_counts, names, ann=ann)
    if cost in names:
        exit_counts, full_counts = traces.counter(cost)
        return np.asarray(exit_counts, dtype=np.float64), np.asarray(full_counts, dtype=np.float64)
    if cost.startswith("energy:"):
        from sparq_gym.energy import get_energy_model

        model = get_energy_model(cost.removeprefix("energy:"))
        exit_cost = model.energy_joules(traces.exit_counts, names, traces.meta)
        full_cost = model.energy_joules(traces.full_counts, names, traces.meta)
        return np.asarray(exit_cost, dtype=np.float64), np.asarray(full_cost, dtype=np.float64)
    raise ValueError(f"unknown cost {cost!r}; expected one of {cost_names()}")


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
