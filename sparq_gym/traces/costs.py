"""Total ops: the one number the environments' default cost reads from a trace (spec §5).

The paper's Table 3 "total ops" of a spiking network is ``synaptic_ops +
lif_ops``. An ANN has neither (no spikes, no LIF neurons), so for its traces
total ops are its MACs. This module is the only place that states the rule;
the environments' ``cost="total_ops"``, the agents' evaluation and the reports
all call :func:`total_ops`.

>>> import numpy as np
>>> names = ("macs", "synaptic_ops", "spikes", "lif_ops", "mem_bytes")
>>> total_ops(np.array([[10, 300, 40, 200, 9]]), names).tolist()  # an SNN
[500.0]
>>> total_ops(np.array([[1000, 0, 0, 0, 9]]), names).tolist()  # an ANN
[1000.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ANN_OPS_COUNTER", "TOTAL_OPS_COUNTERS", "is_ann_counts", "total_ops"]

TOTAL_OPS_COUNTERS: tuple[str, ...] = ("synaptic_ops", "lif_ops")
"""Counters summed by the default cost ``"total_ops"`` (spec §5)."""

ANN_OPS_COUNTER = "macs"
"""What ``"total_ops"`` counts for traces of an ANN (no spikes, no LIF neurons)."""


def _spiking_ops(counts: ArrayLike, counter_names: Sequence[str]) -> NDArray[np.generic]:
    """Sum of the :data:`TOTAL_OPS_COUNTERS` columns of ``counts`` (..., K), in its dtype."""
    array = np.asarray(counts)
    names = list(counter_names)
    missing = [name for name in TOTAL_OPS_COUNTERS if name not in names]
    if missing:
        raise ValueError(f"cost 'total_ops' needs counters {missing}, the traces have {names}")
    return array[..., [names.index(name) for name in TOTAL_OPS_COUNTERS]].sum(axis=-1)


def is_ann_counts(counts: ArrayLike, counter_names: Sequence[str]) -> bool:
    """True when ``counts`` (..., K) are an ANN's: no synaptic or LIF op anywhere, and MACs.

    This is the test :func:`total_ops` applies when it is not told; a caller
    that prices several count arrays of one network (per exit and full) can
    take the decision once, on one of them, and pass it as ``ann``. Counts
    without a ``macs`` counter are never an ANN's (total ops then stay zero).
    """
    return not _spiking_ops(counts, counter_names).any() and ANN_OPS_COUNTER in counter_names


def total_ops(
    counts: ArrayLike, counter_names: Sequence[str], *, ann: bool | None = None
) -> NDArray[np.float64]:
    """Total ops of each counter vector of ``counts`` (..., K), as float64 of shape (...).

    ``synaptic_ops + lif_ops`` (spec §5, the paper's Table 3), or the MACs
    when the counts are an ANN's. ``ann`` says which; when it is None it is
    decided on ``counts`` as a whole (:func:`is_ann_counts`). The sum is taken
    in the counts' own dtype and converted afterwards, so integer counts stay
    exact. Raises ``ValueError`` when a counter of :data:`TOTAL_OPS_COUNTERS`
    is missing, or when ``ann`` is True and ``macs`` is.
    """
    names = list(counter_names)
    spiking = _spiking_ops(counts, names)
    if ann is None:
        ann = is_ann_counts(counts, names)
    if not ann:
        return np.asarray(spiking, dtype=np.float64)
    if ANN_OPS_COUNTER not in names:
        raise ValueError(f"total ops of an ANN need counter {ANN_OPS_COUNTER!r}, got {names}")
    return np.asarray(np.asarray(counts)[..., names.index(ANN_OPS_COUNTER)], dtype=np.float64)
