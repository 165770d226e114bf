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
module exposes seed 003's per-neuron analytic comparison of an SNN with its
QNN twin (:func:`snn_neuron_energy`, :func:`qnn_neuron_energy`,
:func:`energy_ratio`) and the break-even spike rate solver
(:func:`break_even_spike_rate`) used by ``sparq energy sweep``.

>>> import numpy as np
>>> from sparq_gym.traces import COUNTER_NAMES
>>> model = get_energy_model("sparq")
>>> counts = np.array([[200_515_584, 0, 0, 0, 0]])  # the AlexNet ANN: MACs only
>>> round(float(model.energy_joules(counts, COUNTER_NAMES, {})[0]) * 1e6, 2)
922.37
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

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

PICO = 1e-12
"""Joules per picojoule."""

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# The SPARQ paper's model (seed 001, Eq. 4-9)
# ---------------------------------------------------------------------------
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
    between SRAM and DRAM). This model reads no manifest (``meta``) key.

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
        ``include_memory`` is False. ``meta`` is not read.
        """
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
            "synaptic": col["synaptic_ops"] * (self.accumulate_pj * PICO),
            "lif": (col["lif_ops"] / 2.0) * ((self.decay_pj + self.compare_pj) * PICO),
            "memory": memory,
        }


# ---------------------------------------------------------------------------
# The dataflow model of seed 003
# ---------------------------------------------------------------------------
DEFAULT_FAN_IN = 4096
"""Inputs N of the analysed output neuron. Seed 003 §IV-A fixes the model size
after LLaMA (its ref. [32]); 4096 is LLaMA-7B's hidden size. The SNN/QNN ratio
barely depends on N (§IV-B, "Impact of network size")."""

DEFAULT_QNN_SPARSITY = 0.8
"""Activation sparsity of the fixed, optimised QNN baseline of seed 003 §IV-B
("a fixed, optimized QANN baseline with 80% activation sparsity", its ref. [11]);
the section whose break-even spike rates the abstract quotes."""

TWIN_CASES: tuple[str, ...] = ("best", "average", "worst")
"""Seed 003 Theorem 2 cases: the QNN twin that is best, average or worst for the SNN."""


@dataclass(frozen=True)
class DataflowHardware:
    """Hardware constants of seed 003's weight-stationary dataflow chip.

    Energies are in picojoules. Compute energies are given for 8-bit operands
    and scaled to ``weight_bits``: an adder grows linearly with its width, a
    multiplier quadratically (so 32-bit operands give a 3.2 pJ multiply, close
    to Horowitz's 3.1 pJ for a 32-bit integer multiply).

    Sources, all cited through seed 003 (its ref. [15] is Horowitz, ISSCC 2014;
    its ref. [7] is Davies et al., "Loihi", IEEE Micro 2018):

    * ``add_8bit_pj`` = 0.03: 8-bit integer add, 45 nm (Horowitz; seed 003
      §III-A prices the SNN's accumulate ``E_ACC``, Eq. 3, and the compare and
      subtract of the neuron, with an adder).
    * ``mult_8bit_pj`` = 0.2: 8-bit integer multiply, 45 nm (Horowitz; seed 003
      §III-A, Eq. 2: a QNN MAC = multiply + add, ``beta = E_MAC / E_ACC``).
    * ``weight_read_pj_per_bit``: seed 003 §III-B keeps weights in each core's
      local SRAM and prices one weight access ``E_w`` the same for both twins.
      The field's default, 10 / 64 (a 64-bit read of an 8 KB SRAM costs 10 pJ,
      Horowitz; 1.25 pJ per 8-bit weight), is kept by ``worst-case-sparse``;
      ``typical-neuromorphic`` and ``theoretical-minimum`` use 0.13 / 8 (0.13 pJ
      per 8-bit weight), fitted to seed 003's break-even of 5.7 % at T = 5
      (see :data:`DATAFLOW_PRESETS`).
    * ``sparse_pj_per_bit`` / ``dense_pj_per_bit``: per-bit cost of moving
      activations as events (with routing metadata) or as dense words over the
      NoC (seed 003 §III-B, Eq. 5-8); values per preset, see
      :data:`DATAFLOW_PRESETS`.
    * ``hops`` = 1: adjacent layers on adjacent cores (seed 003 §IV-A item 2;
      §IV-C1 scales both per-bit costs by the hop count, Eq. 15-18).
    * ``weight_reuse_qnn`` / ``weight_reuse_snn`` = 1: no weight reuse, the
      worst case of seed 003 §IV-C2 (Eq. 15-18 divide ``E_w`` by these).

    :param name: preset name.
    :param sparse_pj_per_bit: energy per bit of a sparse (event) transfer, per hop.
    :param dense_pj_per_bit: energy per bit of a dense transfer, per hop.
    :param weight_read_pj_per_bit: energy per bit of a weight read from local SRAM.
    :param add_8bit_pj: energy of an 8-bit add (accumulate, compare, subtract).
    :param mult_8bit_pj: energy of an 8-bit multiply.
    :param weight_bits: weight precision (the same for both twins).
    :param hops: average number of NoC hops per activation transfer.
    :param weight_reuse_qnn: weight reuse factor of the QNN.
    :param weight_reuse_snn: weight reuse factor of the SNN.
    :param source: where the per-bit costs come from, in words.
    """

    name: str
    sparse_pj_per_bit: float
    dense_pj_per_bit: float
    weight_read_pj_per_bit: float = 10.0 / 64.0
    add_8bit_pj: float = 0.03
    mult_8bit_pj: float = 0.2
    weight_bits: int = 8
    hops: float = 1.0
    weight_reuse_qnn: float = 1.0
    weight_reuse_snn: float = 1.0
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for key in ("sparse_pj_per_bit", "dense_pj_per_bit", "weight_read_pj_per_bit",
                    "add_8bit_pj", "mult_8bit_pj", "hops"):
            if getattr(self, key) < 0:
                raise ValueError(f"DataflowHardware.{key} must be >= 0, got {getattr(self, key)}")
        if self.weight_bits < 1:
            raise ValueError(f"DataflowHardware.weight_bits must be >= 1, got {self.weight_bits}")
        if self.weight_reuse_qnn <= 0 or self.weight_reuse_snn <= 0:
            raise ValueError("DataflowHardware weight reuse factors must be > 0")

    def accumulate_pj(self, bits: int | None = None) -> float:
        """Energy of one add at ``bits`` (default ``weight_bits``) wide operands."""
        width = self.weight_bits if bits is None else bits
        return self.add_8bit_pj * width / 8.0

    def mac_pj(self, bits: int | None = None) -> float:
        """Energy of one multiply-accumulate at ``bits`` (default ``weight_bits``)."""
        width = self.weight_bits if bits is None else bits
        return self.mult_8bit_pj * (width / 8.0) ** 2 + self.accumulate_pj(width)

    def weight_access_pj(self, bits: int | None = None) -> float:
        """Energy of reading one weight of ``bits`` (default ``weight_bits``) from SRAM."""
        width = self.weight_bits if bits is None else bits
        return self.weight_read_pj_per_bit * width


FITTED_WEIGHT_READ_PJ_PER_BIT = 0.13 / 8.0
"""Weight read energy of the ``typical-neuromorphic`` and ``theoretical-minimum``
presets: 0.13 pJ per 8-bit weight. Fitted, not read: our copy of seed 003 has
lost its value of ``E_w``. With ``e_dense`` = 0.29 pJ/bit, no reuse and QNN
sparsity 0.8, the break-even spike rate at T = 5 is ``(E_w + 3 x 0.29 + 0.2 x
0.23) / (5 (0.03 + E_w + 3.5))`` (less 0.27 / (18.3 N)); the seed's 5.7 % at
T = 5 (arXiv 2409.08290v4 abstract, for the §IV-B setting) gives ``E_w`` = 0.13 pJ, and
the preset reproduces 5.72 % (0.3 % relative error). Table II cannot pin it
(its weight reuse of ~1000 makes weight reads negligible)."""

FITTED_DENSE_PJ_PER_BIT = 0.29
"""Dense (circuit-switched NoC) transfer energy of ``typical-neuromorphic``, in
pJ/bit/hop. Fitted, not read: seed 003 §IV-A item 2 takes it from the authors'
22 nm NoC, but the value is lost in our copy. Fitted to the SNN/QNN ratios of
seed 003 Table II (VGG16 / CIFAR-10, T = 3..8, h = 1, R_q = spatial reuse, R_s
= R_q T): with 0.29 the preset reproduces all six ratios to within 3.3 % (worst
at T = 7, all six 2.2-3.3 % low; earlier assumption 0.1: off by up to 36 %, T = 3
on the wrong side of 1), and keeps the SNN's sparse-to-dense switch between T = 7 (8.19 %) and
T = 8 (8.52 %) that the table shows (0.287-0.298 does)."""

DATAFLOW_PRESETS: dict[str, DataflowHardware] = {
    "theoretical-minimum": DataflowHardware(
        name="theoretical-minimum",
        sparse_pj_per_bit=0.0,
        dense_pj_per_bit=0.0,
        weight_read_pj_per_bit=FITTED_WEIGHT_READ_PJ_PER_BIT,
        source="seed 003 §IV-A item 1: all data-movement costs set to zero; compute and "
        "weight access remain; weight read 0.13 pJ per 8-bit weight, fitted to seed 003's "
        "5.7 % break-even at T = 5 (v4 abstract, §IV-B setting; ours 5.72 %), as "
        "typical-neuromorphic",
    ),
    "typical-neuromorphic": DataflowHardware(
        name="typical-neuromorphic",
        sparse_pj_per_bit=3.5,
        dense_pj_per_bit=FITTED_DENSE_PJ_PER_BIT,
        weight_read_pj_per_bit=FITTED_WEIGHT_READ_PJ_PER_BIT,
        source="seed 003 §IV-A item 2: sparse cost after Loihi 1 (its ref. [7]; 3.5 pJ = mean "
        "of Loihi's 3.0 pJ east-west and 4.0 pJ north-south per-hop spike energy); dense cost "
        "0.29 pJ/bit/hop fitted to seed 003 Table II's SNN/QNN ratios for T = 3..8 (max error "
        "3.3 %; the seed's 22 nm NoC value is not legible in our copy); weight read 0.13 pJ per "
        "8-bit weight fitted to the 5.7 % break-even at T = 5 (v4 abstract, §IV-B setting; ours "
        "5.72 %); 1 hop",
    ),
    "worst-case-sparse": DataflowHardware(
        name="worst-case-sparse",
        sparse_pj_per_bit=1300.0,
        dense_pj_per_bit=1300.0 / 64.0,
        source="seed 003 §IV-A item 3: every 1-bit spike costs a full 64-bit DRAM read "
        "(1300 pJ, its ref. [15] Horowitz); dense transfers amortise it, 1300/64 pJ/bit",
    ),
}
"""The three hardware settings of seed 003 §IV-A, keyed by preset name."""

_PRESET_ALIASES: dict[str, str] = {"typical": "typical-neuromorphic"}


def get_preset(preset: str | DataflowHardware) -> DataflowHardware:
    """Return the :class:`DataflowHardware` named ``preset`` (or ``preset`` itself).

    Accepts the names of :data:`DATAFLOW_PRESETS`, the alias ``"typical"``, and
    the same names with a ``"dataflow-"`` prefix; anything else raises a
    ``ValueError`` that lists the known presets.
    """
    if isinstance(preset, DataflowHardware):
        return preset
    key = str(preset).removeprefix("dataflow-")
    key = _PRESET_ALIASES.get(key, key)
    if key not in DATAFLOW_PRESETS:
        known = sorted([*DATAFLOW_PRESETS, *_PRESET_ALIASES])
        raise ValueError(f"unknown dataflow preset {preset!r}; expected one of {known}")
    return DATAFLOW_PRESETS[key]


def qnn_activation_bits(timesteps: int) -> int:
    """Activation bits of the QNN twin of a T-step SNN: ``ceil(log2(T + 1))`` (seed 003 Thm. 1).

    A T-step rate-coded neuron emits 0..T spikes, T + 1 levels, which need
    ``ceil(log2(T + 1))`` bits; for integers this equals ``T.bit_length()``.
    """
    timesteps = int(timesteps)
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    return timesteps.bit_length()


def twin_qnn_sparsity(spike_rate: ArrayLike, timesteps: int, case: str) -> FloatArray:
    """Activation sparsity of the QNN twin of an SNN with ``spike_rate`` (seed 003 Thm. 2).

    For a QNN with density ``d = 1 - sparsity`` the SNN's spike rate lies
    between ``d / T`` (every active input is the smallest level, one spike) and
    ``d`` (every active input fires at every step); uniform levels give
    ``d (T + 1) / (2 T)``. Inverting, the twin of a given SNN has density
    ``T * rate`` (``"best"`` case for the SNN), ``2 T rate / (T + 1)``
    (``"average"``) or ``rate`` (``"worst"``). Densities above 1 mean no such
    twin exists; they come back as NaN.
    """
    rate = np.asarray(spike_rate, dtype=np.float64)
    if case == "best":
        density = timesteps * rate
    elif case == "average":
        density = 2.0 * timesteps * rate / (timesteps + 1.0)
    elif case == "worst":
        density = rate.copy()
    else:
        raise ValueError(f"unknown twin case {case!r}; expected one of {list(TWIN_CASES)}")
    return np.where(density <= 1.0 + 1e-12, 1.0 - np.minimum(density, 1.0), np.nan)


@dataclass(frozen=True)
class NeuronEnergy:
    """Energy of one output neuron's inference in pJ, split as in seed 003 Eq. 1.

    Arrays broadcast over the shapes of the inputs that produced them.

    :param compute_pj: arithmetic (Eq. 2 or 3).
    :param weight_access_pj: weight reads from local SRAM (part of Eq. 5-8).
    :param movement_pj: activation transfers over the NoC (part of Eq. 5-8).
    :param dense: True where dense transfer was cheaper than sparse and was chosen.
    """

    compute_pj: FloatArray
    weight_access_pj: FloatArray
    movement_pj: FloatArray
    dense: NDArray[np.bool_]

    @property
    def total_pj(self) -> FloatArray:
        """Compute + weight access + activation movement, in pJ."""
        return self.compute_pj + self.weight_access_pj + self.movement_pj


def qnn_neuron_energy(
    preset: str | DataflowHardware,
    timesteps: int,
    sparsity: ArrayLike,
    fan_in: int = DEFAULT_FAN_IN,
) -> NeuronEnergy:
    """Energy (pJ) of one output neuron of the QNN twin of a T-step SNN (seed 003 Eq. 2, 5, 6).

    The QNN has ``n = ceil(log2(T + 1))``-bit activations and ``fan_in`` inputs
    of which a fraction ``sparsity`` is zero. Compute (Eq. 2): ``(1 - sparsity)
    N E_MAC + E_cmp`` (zero inputs are skipped; one clamp compare). Data
    movement is the cheaper of sparse (Eq. 5: ``(1 - sparsity) N (E_w / R_q +
    n e_sparse h)``: only non-zero activations move, only their weights are
    read) and dense (Eq. 6: ``N (E_w / R_q + n e_dense h)``: every activation
    moves and every weight is read).
    """
    hw = get_preset(preset)
    bits = qnn_activation_bits(timesteps)
    density = 1.0 - np.asarray(sparsity, dtype=np.float64)
    weight = hw.weight_access_pj() / hw.weight_reuse_qnn
    compute = density * fan_in * hw.mac_pj() + hw.accumulate_pj()
    sparse_w = density * fan_in * weight
    sparse_m = density * fan_in * bits * hw.sparse_pj_per_bit * hw.hops
    dense_w = np.full_like(density, fan_in * weight)
    dense_m = np.full_like(density, fan_in * bits * hw.dense_pj_per_bit * hw.hops)
    use_dense = dense_w + dense_m < sparse_w + sparse_m
    return NeuronEnergy(
        compute_pj=compute,
        weight_access_pj=np.where(use_dense, dense_w, sparse_w),
        movement_pj=np.where(use_dense, dense_m, sparse_m),
        dense=use_dense,
    )


def snn_neuron_energy(
    preset: str | DataflowHardware,
    timesteps: int,
    spike_rate: ArrayLike,
    fan_in: int = DEFAULT_FAN_IN,
) -> NeuronEnergy:
    """Energy (pJ) of one output neuron of a T-step SNN (seed 003 Eq. 3, 7, 8).

    Each of ``fan_in`` inputs spikes in a fraction ``spike_rate`` of the T
    steps. Compute (Eq. 3): ``T rate N E_ACC + T (E_cmp + E_sub)`` (one
    accumulate per incoming spike; an integrate-and-fire neuron compares and
    may subtract its threshold every step). Data movement is the cheaper of
    sparse (Eq. 7: ``T rate N (E_w / R_s + e_sparse h)``: each 1-bit spike
    moves as an event and triggers one weight read) and dense (Eq. 8:
    ``T N (E_w / R_s + e_dense h)``: every potential spike slot moves and every
    weight is read at every step).
    """
    hw = get_preset(preset)
    timesteps = int(timesteps)
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    rate = np.asarray(spike_rate, dtype=np.float64)
    weight = hw.weight_access_pj() / hw.weight_reuse_snn
    events = timesteps * rate * fan_in
    compute = events * hw.accumulate_pj() + timesteps * 2.0 * hw.accumulate_pj()
    sparse_w = events * weight
    sparse_m = events * hw.sparse_pj_per_bit * hw.hops
    dense_w = np.full_like(rate, timesteps * fan_in * weight)
    dense_m = np.full_like(rate, timesteps * fan_in * hw.dense_pj_per_bit * hw.hops)
    use_dense = dense_w + dense_m < sparse_w + sparse_m
    return NeuronEnergy(
        compute_pj=compute,
        weight_access_pj=np.where(use_dense, dense_w, sparse_w),
        movement_pj=np.where(use_dense, dense_m, sparse_m),
        dense=use_dense,
    )


def _qnn_sparsity_for(
    spike_rate: FloatArray, timesteps: int, qnn_sparsity: float | str
) -> FloatArray:
    if isinstance(qnn_sparsity, str):
        return twin_qnn_sparsity(spike_rate, timesteps, qnn_sparsity)
    value = float(qnn_sparsity)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"qnn_sparsity must lie in [0, 1] or be one of {list(TWIN_CASES)}")
    return np.full_like(spike_rate, value)


def energy_ratio(
    preset: str | DataflowHardware,
    timesteps: int,
    spike_rate: ArrayLike,
    *,
    qnn_sparsity: float | str = DEFAULT_QNN_SPARSITY,
    fan_in: int = DEFAULT_FAN_IN,
    n_outputs: int = 1,
) -> FloatArray:
    """SNN / QNN-twin energy ratio at ``spike_rate`` (seed 003 §IV; < 1 means the SNN wins).

    ``qnn_sparsity`` is either a fixed QNN activation sparsity (default 0.8,
    the §IV-B baseline) or a Theorem 2 case (``"best"``, ``"average"``,
    ``"worst"``) that ties the twin's sparsity to the spike rate. A layer of
    ``n_outputs`` identical output neurons, or a network of such layers, scales
    both energies alike, so ``n_outputs`` only documents that the ratio holds
    per layer; it must be positive.
    """
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
    rate = np.asarray(spike_rate, dtype=np.float64)
    sparsity = _qnn_sparsity_for(rate, timesteps, qnn_sparsity)
    snn = snn_neuron_energy(preset, timesteps, rate, fan_in).total_pj * n_outputs
    qnn = qnn_neuron_energy(preset, timesteps, sparsity, fan_in).total_pj * n_outputs
    return snn / qnn


def break_even_spike_rate(
    preset: str | DataflowHardware,
    timesteps: int,
    *,
    qnn_sparsity: float | str = DEFAULT_QNN_SPARSITY,
    fan_in: int = DEFAULT_FAN_IN,
    tolerance: float = 1e-12,
) -> float:
    """Spike rate at which the SNN costs as much as its QNN twin (seed 003 §IV-B).

    Returns the smallest rate in (0, 1] at which :func:`energy_ratio` reaches
    1; below it the SNN is cheaper. Returns 0.0 when the SNN is not cheaper
    even at the smallest rate scanned (1/2000) and 1.0 when it is cheaper at
    every rate. Found by a grid scan (step 1/2000) for the first crossing
    followed by bisection to ``tolerance``. With the default fixed QNN
    sparsity the SNN energy grows with the rate and the QNN's does not, so the
    crossing is unique; with a Theorem 2 case (``"best"`` ...) both grow and
    the ratio is nearly flat, so the answer is 0.0, 1.0 or a mode switch.
    """
    timesteps = int(timesteps)

    def excess(rate: float) -> float:
        value = energy_ratio(
            preset, timesteps, np.array(rate), qnn_sparsity=qnn_sparsity, fan_in=fan_in
        )
        return float(value) - 1.0 if np.isfinite(value) else math.inf

    grid = np.linspace(0.0, 1.0, 2001)[1:]
    values = np.array([excess(r) for r in grid])
    if values[0] >= 0.0:
        return 0.0
    above = np.nonzero(values >= 0.0)[0]
    if above.size == 0:
        return 1.0
    low, high = float(grid[above[0] - 1]), float(grid[above[0]])
    while high - low > tolerance:
        middle = 0.5 * (low + high)
        if excess(middle) >= 0.0:
            high = middle
        else:
            low = middle
    return 0.5 * (low + high)


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

    Manifest keys read: ``weight_bits`` (optional; default the preset's 8),
    ``activation_bits`` (optional; default 8).

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
        weight_pj = hw.weight_access_pj(weight_bits)
        neuron_pj = hw.mult_8bit_pj + hw.add_8bit_pj
        return {
            "mac": macs * (hw.mac_pj(weight_bits) * PICO),
            "synaptic": syn * (hw.accumulate_pj(weight_bits) * PICO),
            "neuron": (lif / 2.0) * (neuron_pj * PICO),
            "weight_access": (
                macs * (weight_pj / hw.weight_reuse_qnn) + syn * (weight_pj / hw.weight_reuse_snn)
            )
            * PICO,
            "movement": (
                macs * (activation_bits * hw.dense_pj_per_bit * hw.hops)
                + syn * (hw.sparse_pj_per_bit * hw.hops)
            )
            * PICO,
        }


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------
def _dataflow(preset: str, name: str) -> Callable[[], EnergyModel]:
    return lambda: DataflowEnergyModel(hardware=get_preset(preset), name=name)


_REGISTRY: dict[str, Callable[[], EnergyModel]] = {
    "sparq": lambda: SparqEnergyModel(),
    "sparq-compute": lambda: SparqEnergyModel(name="sparq-compute", include_memory=False),
    "dataflow-theoretical-minimum": _dataflow(
        "theoretical-minimum", "dataflow-theoretical-minimum"
    ),
    "dataflow-typical-neuromorphic": _dataflow(
        "typical-neuromorphic", "dataflow-typical-neuromorphic"
    ),
    "dataflow-typical": _dataflow("typical-neuromorphic", "dataflow-typical"),
    "dataflow-worst-case-sparse": _dataflow("worst-case-sparse", "dataflow-worst-case-sparse"),
}

ENERGY_MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)
"""Every name :func:`get_energy_model` accepts (``dataflow-typical`` is an alias)."""


def get_energy_model(name: str) -> EnergyModel:
    """Return a fresh instance of the energy model registered as ``name``.

    Known names are :data:`ENERGY_MODEL_NAMES`; an unknown name raises a
    ``ValueError`` that lists them. The environments call this for
    ``cost="energy:<name>"``.
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValueError(
            f"unknown energy model {name!r}; expected one of {list(ENERGY_MODEL_NAMES)}"
        )
    return factory()


def with_hardware(model: DataflowEnergyModel, **changes: Any) -> DataflowEnergyModel:
    """A copy of ``model`` whose hardware has ``changes`` applied (e.g. ``hops=4``)."""
    return replace(model, hardware=replace(model.hardware, **changes))

