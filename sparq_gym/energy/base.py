"""The base class of every energy model: counter vectors in, joules out.

:class:`EnergyModel` fixes the contract (named parts from :meth:`~EnergyModel.breakdown`,
their sum from :meth:`~EnergyModel.energy_joules`); :func:`_columns` is the one
place that checks a counts array against its counter names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["PICO", "EnergyModel", "spike_width"]

PICO = 1e-12
"""Joules per picojoule."""

FloatArray = NDArray[np.float64]


class EnergyModel(ABC):
    """Turns per-sample counter vectors into joules.

    Subclasses implement :meth:`breakdown`, which returns the named parts of the
    energy (in joules, each with the leading shape of ``counts``);
    :meth:`energy_joules` is their sum. ``counts`` has the K counters on its
    last axis, in the order given by ``counter_names``; any leading axes
    ((N, E) for per-exit counts, (N,) for the plain network) are kept.
    """

    name: str = "abstract"

    @abstractmethod
    def breakdown(
        self, counts: ArrayLike, counter_names: Sequence[str], meta: Mapping[str, Any]
    ) -> dict[str, FloatArray]:
        """Return the named energy parts in joules, each of shape ``counts.shape[:-1]``."""

    def energy_joules(
        self, counts: ArrayLike, counter_names: Sequence[str], meta: Mapping[str, Any]
    ) -> FloatArray:
        """Total energy in joules of each counter vector, shape ``counts.shape[:-1]``.

        This is the sum of the parts of :meth:`breakdown`; it is vectorised over
        every leading axis of ``counts``.
        """
        parts = self.breakdown(counts, counter_names, meta)
        shape = np.shape(counts)[:-1]
        total = np.zeros(shape, dtype=np.float64)
        for value in parts.values():
            total = total + value
        return total

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _columns(
    counts: ArrayLike, counter_names: Sequence[str], required: Sequence[str], model: str
) -> dict[str, FloatArray]:
    """Split ``counts`` (..., K) into float64 columns for the ``required`` counters."""
    array = np.asarray(counts)
    names = list(counter_names)
    if array.ndim < 1 or array.shape[-1] != len(names):
        raise ValueError(
            f"energy model {model!r}: counts must have the {len(names)} counters {names} on "
            f"the last axis, got shape {array.shape}"
        )
    missing = [name for name in required if name not in names]
    if missing:
        raise ValueError(
            f"energy model {model!r} needs counters {list(required)}; missing {missing} "
            f"(the traces have {names})"
        )
    return {name: array[..., names.index(name)].astype(np.float64) for name in required}


def spike_width(meta: Mapping[str, Any], model: str) -> int:
    """``meta["spike_bits"]``: bits of one spike event (1 for binary spikes, more for multi-level ones)."""
    bits = int(meta.get("spike_bits", 1))
    if bits < 1:
        raise ValueError(f"energy model {model!r}: meta spike_bits must be >= 1, got {bits}")
    return bits
