"""Seed 003's per-neuron comparison of a T-step SNN with its QNN twin.

The energy of one output neuron of each twin (compute + weight access +
activation movement, seed 003 Eq. 1-8), the Theorem 1-2 relations that tie
the twins together, the SNN/QNN energy ratio and the break-even spike rate
used by ``sparq energy sweep``. Prices come from a
:class:`~sparq_gym.energy.dataflow_hardware.DataflowHardware` preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sparq_gym.energy.base import FloatArray
from sparq_gym.energy.dataflow_hardware import DataflowHardware, get_preset

__all__ = [
    "DEFAULT_FAN_IN",
    "DEFAULT_QNN_SPARSITY",
    "TWIN_CASES",
    "NeuronEnergy",
    "break_even_spike_rate",
    "energy_ratio",
    "qnn_activation_bits",
    "qnn_neuron_energy",
    "snn_neuron_energy",
    "twin_qnn_sparsity",
]

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


def _with_cheaper_movement(
    hw: DataflowHardware,
    compute: FloatArray,
    sparse_transfers: FloatArray,
    dense_transfers: int,
    bits: int,
    weight_pj: float,
) -> NeuronEnergy:
    """A neuron's energy with the cheaper of sparse and dense data movement (seed 003 Eq. 5-8).

    Sparse: each of the ``sparse_transfers`` non-zero activations reads its
    weight (``weight_pj``, reuse already applied) and moves its ``bits`` bits
    as an event; dense: each of the ``dense_transfers`` activation slots reads
    its weight and moves ``bits`` bits as a dense word. The choice is made per
    element; ``dense`` marks where dense was cheaper.
    """
    sparse_w = sparse_transfers * weight_pj
    sparse_m = sparse_transfers * bits * hw.sparse_pj_per_bit * hw.hops
    dense_w = np.full_like(sparse_transfers, dense_transfers * weight_pj)
    dense_m = np.full_like(
        sparse_transfers, dense_transfers * bits * hw.dense_pj_per_bit * hw.hops
    )
    use_dense = dense_w + dense_m < sparse_w + sparse_m
    return NeuronEnergy(
        compute_pj=compute,
        weight_access_pj=np.where(use_dense, dense_w, sparse_w),
        movement_pj=np.where(use_dense, dense_m, sparse_m),
        dense=use_dense,
    )


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
    return _with_cheaper_movement(hw, compute, density * fan_in, fan_in, bits, weight)


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
    return _with_cheaper_movement(hw, compute, events, timesteps * fan_in, 1, weight)


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

