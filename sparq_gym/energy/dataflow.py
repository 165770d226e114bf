"""Seed 003's dataflow-chip model applied to trace counts (the ``dataflow-*`` models).

Prices a whole network's counters with the constants of a
:class:`~sparq_gym.energy.dataflow_hardware.DataflowHardware` preset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from sparq_gym.energy.base import PICO, EnergyModel, FloatArray, _columns, spike_width
from sparq_gym.energy.dataflow_hardware import DataflowHardware

__all__ = ["DataflowEnergyModel"]


@dataclass(frozen=True)
class DataflowEnergyModel(EnergyModel):
    """Seed 003's dataflow-chip model applied to trace counts.

    Prices a whole network from its counters, in the spirit of seed 003 Eq. 1-8
    summed over every output neuron of every layer:

    * ``synaptic_ops`` (spike-driven accumulates; each is one (spike, weight)
      event): ``E_ACC + E_w / R_s + 1 bit x e_sparse x h``. An SNN moves spikes
      as events (Eq. 7); like the seed's per-neuron analysis, every (spike,
      output neuron) pair is one transfer, which is an upper bound for a NoC
      that multicasts a spike to a core once.
    * ``macs`` (ANN layers, and the first layer of an SNN fed with analog
      pixels): ``E_MAC + E_w / R_q + a bits x e_dense x h``, dense transfer
      (Eq. 6), with ``a`` = ``meta["activation_bits"]`` (default 8: 8-bit
      pixels or activations).
    * ``lif_ops`` (two per neuron and step, Eq. 9 of seed 001): per pair, a
      decay multiply and a threshold compare at 8 bits. (Seed 003's IF neuron
      has no decay; our LIF neurons do.)
    * ``spikes`` and ``mem_bytes`` are not priced: weight reads and activation
      transfers are already derived from the op counts, and counting
      ``mem_bytes`` too would count the same traffic twice.

    * multi-level spikes (``spike_bits`` = b > 1, seed 004): each synaptic op
      is ``b`` accumulates (shift-and-add of ``z * w``) and moves ``b`` bits;
      its weight is still read once.

    Manifest keys read: ``weight_bits`` (optional; default the preset's 8),
    ``activation_bits`` (optional; default 8), ``spike_bits`` (optional; default 1).

    :param hardware: the preset (see :data:`DATAFLOW_PRESETS`).
    :param name: registry name.
    """

    hardware: DataflowHardware
    name: str = "dataflow"

    def breakdown(
        self, counts: ArrayLike, counter_names: Sequence[str], meta: Mapping[str, Any]
    ) -> dict[str, FloatArray]:
        """Return ``mac``, ``synaptic``, ``neuron``, ``weight_access``, ``movement`` in joules.

        ``mac``/``synaptic``/``neuron`` are arithmetic; ``weight_access`` is SRAM
        reads; ``movement`` is activation transfers over the NoC. Each part has
        the leading shape of ``counts``.
        """
        col = _columns(counts, counter_names, ["macs", "synaptic_ops", "lif_ops"], self.name)
        hw = self.hardware
        weight_bits = int(meta.get("weight_bits", hw.weight_bits))
        activation_bits = int(meta.get("activation_bits", 8))
        if weight_bits < 1 or activation_bits < 1:
            raise ValueError(
                f"energy model {self.name!r}: meta weight_bits and activation_bits must be >= 1, "
                f"got {weight_bits} and {activation_bits}"
            )
        macs, syn, lif = col["macs"], col["synaptic_ops"], col["lif_ops"]
        spike_bits = spike_width(meta, self.name)
        weight_pj = hw.weight_access_pj(weight_bits)
        neuron_pj = hw.mult_8bit_pj + hw.add_8bit_pj
        return {
            "mac": macs * (hw.mac_pj(weight_bits) * PICO),
            "synaptic": syn * (spike_bits * hw.accumulate_pj(weight_bits) * PICO),
            "neuron": (lif / 2.0) * (neuron_pj * PICO),
            "weight_access": (
                macs * (weight_pj / hw.weight_reuse_qnn) + syn * (weight_pj / hw.weight_reuse_snn)
            )
            * PICO,
            "movement": (
                macs * (activation_bits * hw.dense_pj_per_bit * hw.hops)
                + syn * (spike_bits * hw.sparse_pj_per_bit * hw.hops)
            )
            * PICO,
        }

