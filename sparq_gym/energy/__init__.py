"""Energy models: raw trace counts in, joules out (spec §3, §7).

Traces hold counts (:data:`sparq_gym.traces.COUNTER_NAMES`); an energy model
prices them, so a new model needs no re-extraction. Two families are provided:

``sparq``
    The SPARQ paper's operation-counting model (seed 001, Eq. 4-9) with the
    45 nm constants of Horowitz, ISSCC 2014. ``sparq-compute`` is the same
    model without the memory term (the paper's Table 4, arithmetic only).
``dataflow-*``
    The analytical model of seed 003 (Yan, Bai, Tang, Wong, "Reconsidering the
    energy efficiency of spiking neural networks inference from analytical
    perspectives"): compute + weight access + activation movement on a
    weight-stationary spatial dataflow chip, with separate per-bit costs for
    sparse (event) and dense transfers. Three hardware presets of its §IV-A:
    ``dataflow-theoretical-minimum``, ``dataflow-typical-neuromorphic`` (alias
    ``dataflow-typical``) and ``dataflow-worst-case-sparse``.

Every model is reached by name through :func:`get_energy_model`; the
environments accept ``cost="energy:<name>"``. Besides pricing counts, this
package exposes seed 003's per-neuron analytic comparison of an SNN with its
QNN twin (:func:`snn_neuron_energy`, :func:`qnn_neuron_energy`,
:func:`energy_ratio`) and the break-even spike rate solver
(:func:`break_even_spike_rate`) used by ``sparq energy sweep``.

One module per part, each importing only the ones listed before it:

=========================== ========================================================
module                      holds
=========================== ========================================================
``base``                    :class:`EnergyModel`, :data:`PICO`
``sparq``                   :class:`SparqEnergyModel` (seed 001, Eq. 4-9)
``dataflow_hardware``       :class:`DataflowHardware`, :data:`DATAFLOW_PRESETS`,
                            :func:`get_preset`
``neuron_energy``           seed 003's per-neuron SNN / QNN-twin comparison
``dataflow``                :class:`DataflowEnergyModel` (seed 003 on trace counts)
``registry``                :func:`get_energy_model`, :data:`ENERGY_MODEL_NAMES`,
                            :func:`with_hardware`
=========================== ========================================================

>>> import numpy as np
>>> from sparq_gym.traces import COUNTER_NAMES
>>> model = get_energy_model("sparq")
>>> counts = np.array([[200_515_584, 0, 0, 0, 0]])  # the AlexNet ANN: MACs only
>>> round(float(model.energy_joules(counts, COUNTER_NAMES, {})[0]) * 1e6, 2)
922.37
"""

from sparq_gym.energy.base import PICO, EnergyModel
from sparq_gym.energy.dataflow import DataflowEnergyModel
from sparq_gym.energy.dataflow_hardware import (
    DATAFLOW_PRESETS,
    FITTED_DENSE_PJ_PER_BIT,
    FITTED_WEIGHT_READ_PJ_PER_BIT,
    DataflowHardware,
    get_preset,
)
from sparq_gym.energy.neuron_energy import (
    DEFAULT_FAN_IN,
    DEFAULT_QNN_SPARSITY,
    TWIN_CASES,
    NeuronEnergy,
    break_even_spike_rate,
    energy_ratio,
    qnn_activation_bits,
    qnn_neuron_energy,
    snn_neuron_energy,
    twin_qnn_sparsity,
)
from sparq_gym.energy.registry import ENERGY_MODEL_NAMES, get_energy_model, with_hardware
from sparq_gym.energy.sparq import SparqEnergyModel

__all__ = [
    "DATAFLOW_PRESETS",
    "DEFAULT_FAN_IN",
    "DEFAULT_QNN_SPARSITY",
    "ENERGY_MODEL_NAMES",
    "FITTED_DENSE_PJ_PER_BIT",
    "FITTED_WEIGHT_READ_PJ_PER_BIT",
    "PICO",
    "TWIN_CASES",
    "DataflowEnergyModel",
    "DataflowHardware",
    "EnergyModel",
    "NeuronEnergy",
    "SparqEnergyModel",
    "break_even_spike_rate",
    "energy_ratio",
    "get_energy_model",
    "get_preset",
    "qnn_activation_bits",
    "qnn_neuron_energy",
    "snn_neuron_energy",
    "twin_qnn_sparsity",
    "with_hardware",
]
