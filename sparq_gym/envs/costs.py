"""What a path through the network costs: the ``cost`` argument of the environments.

A cost turns the raw counters of a trace into one number per (sample, exit)
and one per sample for the plain network; savings are ``1 - C_exit / C_full``.

=================== ===========================================================
``cost``            meaning
=================== ===========================================================
``"total_ops"``     ``macs + synaptic_ops + lif_ops`` (default). For a spiking
                    network fed with spikes this is spec §5's synaptic + LIF
                    ops; the first layer of a network fed with analog pixels
                    and every layer of an ANN count as MACs.
a counter name      one raw counter, e.g. ``"synaptic_ops"``, ``"mem_bytes"``
``"energy:NAME"``   joules under an energy model of :mod:`sparq_gym.energy`,
                    e.g. ``"energy:sparq"``
=================== ===========================================================
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sparq_gym.traces import COUNTER_NAMES, TraceSet

__all__ = ["TOTAL_OPS_COUNTERS", "cost_names", "resolve_cost"]

TOTAL_OPS_COUNTERS: tuple[str, ...] = ("macs", "synaptic_ops", "lif_ops")
"""Counters summed by the default cost ``"total_ops"``."""


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
    if cost == "total_ops":
        missing = [c for c in TOTAL_OPS_COUNTERS if c not in names]
        if missing:
            raise ValueError(f"cost 'total_ops' needs counters {missing}, the traces have {list(names)}")
        idx = [names.index(c) for c in TOTAL_OPS_COUNTERS]
        exit_cost = traces.exit_counts[:, :, idx].sum(axis=2)
        full_cost = traces.full_counts[:, idx].sum(axis=1)
    elif cost in names:
        exit_cost, full_cost = traces.counter(cost)
    elif cost.startswith("energy:"):
        from sparq_gym.energy import get_energy_model

        model = get_energy_model(cost.removeprefix("energy:"))
        exit_cost = model.energy_joules(traces.exit_counts, names, traces.meta)
        full_cost = model.energy_joules(traces.full_counts, names, traces.meta)
    else:
        raise ValueError(f"unknown cost {cost!r}; expected one of {cost_names()}")
    return np.asarray(exit_cost, dtype=np.float64), np.asarray(full_cost, dtype=np.float64)
