"""The SPARQ paper's operation-counting energy model (seed 001, Eq. 4-9).

Registered as ``sparq`` (with memory) and ``sparq-compute`` (arithmetic only,
the paper's Table 4) in :mod:`sparq_gym.energy.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sparq_gym.energy.base import PICO, EnergyModel, FloatArray, _columns, spike_width

__all__ = ["SparqEnergyModel"]


@dataclass(frozen=True)
class SparqEnergyModel(EnergyModel):
    """The SPARQ paper's operation-counting energy model (seed 001, Eq. 4-9).

    ``E = macs * E_MAC + synaptic_ops * E_AC + (lif_ops / 2) * (E_decay + E_cmp)
    + mem_bytes * E_mem``. Eq. 4 prices an ANN (MACs + memory), Eq. 5 an SNN
    (accumulates + LIF updates + memory); one formula covers both because a
    trace of an ANN has no synaptic or LIF ops, and the first layer of a spiking
    network fed with analog pixels counts as MACs. ``lif_ops`` already counts
    two operations per neuron and timestep (Eq. 9: one decay multiply, one
    threshold compare), so it is halved and each half-pair priced at
    ``E_decay + E_cmp``. Accumulates are ``synaptic_ops`` (each spike costs its
    fan-out, as in the paper's Tables 1, 3 and 4), not the raw spike count of
    Eq. 8, which the traces keep as ``spikes``.

    Memory model: ``mem_bytes`` is what the trace extraction counts (spec §3):
    bytes of weights, membrane potentials and spikes read or written on the
    path; every byte costs the same ``E_mem`` whatever the level of the memory
    hierarchy, as in the paper's Eq. 4-5 (no caching, no reuse, no distinction
    between SRAM and DRAM).

    Multi-level spikes (seed 004): a synaptic op on a spike of ``b`` =
    ``meta["spike_bits"]`` bits (default 1) adds ``z * w`` for ``z < 2**b``
    by shift-and-add, at most ``b`` accumulates, and is priced as ``b`` of
    them (an upper bound). That is the only manifest key this model reads.

    Constants (45 nm CMOS, M. Horowitz, "Computing's energy problem (and what
    we can do about it)", ISSCC 2014, the paper's ref. [5]; values as the paper
    states them in §2.3.1 and §3.3): ``E_MAC`` = 4.6 pJ (32-bit float MAC:
    3.7 pJ multiply + 0.9 pJ add), ``E_AC`` = 0.03 pJ (8-bit integer add),
    ``E_decay`` = 0.9 pJ (the paper's "8-bit multiply" for the leak),
    ``E_cmp`` = 0.1 pJ (comparison), ``E_mem`` = 80 pJ/byte.

    :param name: registry name.
    :param mac_pj: energy of one MAC in pJ.
    :param accumulate_pj: energy of one synaptic accumulate in pJ.
    :param decay_pj: energy of one membrane decay in pJ.
    :param compare_pj: energy of one threshold comparison in pJ.
    :param memory_pj_per_byte: energy of moving one byte in pJ.
    :param include_memory: price ``mem_bytes`` (False gives the paper's Table 4,
        arithmetic only).
    """

    name: str = "sparq"
    mac_pj: float = 4.6
    accumulate_pj: float = 0.03
    decay_pj: float = 0.9
    compare_pj: float = 0.1
    memory_pj_per_byte: float = 80.0
    include_memory: bool = True

    def breakdown(
        self, counts: ArrayLike, counter_names: Sequence[str], meta: Mapping[str, Any]
    ) -> dict[str, FloatArray]:
        """Return ``mac``, ``synaptic``, ``lif`` and ``memory`` energies in joules.

        Each part has the leading shape of ``counts``; ``memory`` is zero when
        ``include_memory`` is False. ``meta``: ``spike_bits`` only.
        """
        spike_bits = spike_width(meta, self.name)
        required = ["macs", "synaptic_ops", "lif_ops"]
        if self.include_memory:
            required.append("mem_bytes")
        col = _columns(counts, counter_names, required, self.name)
        memory = (
            col["mem_bytes"] * (self.memory_pj_per_byte * PICO)
            if self.include_memory
            else np.zeros_like(col["macs"])
        )
        return {
            "mac": col["macs"] * (self.mac_pj * PICO),
            "synaptic": col["synaptic_ops"] * (spike_bits * self.accumulate_pj * PICO),
            "lif": (col["lif_ops"] / 2.0) * ((self.decay_pj + self.compare_pj) * PICO),
            "memory": memory,
        }

