"""Integer-membrane neurons with saturation (seed 002, SpQuant-SNN): the rule, for inference and training.

A layer's membrane potential is a signed ``B``-bit integer counted in units of
``theta / S`` (``theta``: the layer's threshold, ``S``: units per threshold).
Per timestep::

    q = round(I / (theta / S))                  the input current in membrane units
    U <- clamp(U + q, -2**(B-1), 2**(B-1) - 1)   integrate, saturating
    s = [U >= S]                                 a binary spike
    U <- U - S * s                               reset by subtraction

with ``U = S // 2`` (half the threshold: the "shift" of clip-floor-shift) after
a reset. With ``S`` a multiple of the ANN's quantization levels ``L`` the input
quantum ``theta / S`` divides the QNN twin's activation step, so the converted
network starts near the INT8 QSNN's function, saturation aside. The
``spquant`` default ``B = 5, S = 8`` keeps ``U`` in ``[-16, 15]``: almost two
thresholds of charge can wait for the next timestep. A ternary (1.58-bit)
membrane (``B = 2, S = 1``) keeps no sub-threshold charge at all; the widths
measured on the hold-out are in ``docs/backbones.md``.
:func:`integer_membrane_step` is the one implementation of the rule:
:class:`IntegerMembraneNeuron` runs it without gradients, and the SpQuant
fine-tuning (:mod:`sparq_gym.backbones.spiking.spquant`) runs it with a
straight-through round and snntorch's fast-sigmoid surrogate for the spike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sparq_gym.backbones.spiking.neurons import MembraneLayer

__all__ = ["IntegerMembraneNeuron", "integer_membrane_step", "membrane_range"]


def membrane_range(bits: int) -> tuple[int, int]:
    """The signed ``bits``-bit range ``(-2**(bits-1), 2**(bits-1) - 1)`` of the membrane potential."""
    if bits < 2:
        raise ValueError(f"membrane bits must be >= 2, got {bits}")
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def integer_membrane_step(mem: Tensor, current: Tensor, unit: Tensor | float, steps: int, bits: int,
                          spike_fn: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """One timestep of the integer-membrane rule (module docstring); returns ``(spikes, new membrane)``.

    ``unit`` is ``theta / steps`` (a tensor when the threshold is learned).
    ``spike_fn`` is ``None`` at inference (a plain comparison, a hard round);
    in training it is a Heaviside with a surrogate gradient, the round is
    straight-through and the reset is not differentiated.
    """
    low, high = membrane_range(bits)
    scaled = current / unit
    if spike_fn is None:
        quantized = torch.round(scaled)
    else:
        quantized = scaled + (torch.round(scaled) - scaled).detach()
    mem = torch.clamp(mem + quantized, low, high)
    if spike_fn is None:
        spikes = (mem >= steps).to(current.dtype)
        return spikes, mem - steps * spikes
    spikes = spike_fn(mem - (steps - 0.5))
    return spikes, mem - steps * spikes.detach()


class IntegerMembraneNeuron(MembraneLayer):
    """A layer of integer-membrane neurons (inference; no gradients).

    :param threshold: the layer's (learned) threshold ``theta``.
    :param bits: membrane width ``B``.
    :param steps: membrane units per threshold ``S`` (``S <= 2**(B-1) - 1``).

    Shapes: input current and output spikes ``(N, ...)``; spikes are 0. or 1.
    """

    def __init__(self, threshold: float, bits: int, steps: int) -> None:
        super().__init__(threshold)
        high = membrane_range(bits)[1]
        if not 1 <= steps <= high:
            raise ValueError(f"steps must be in 1..{high} for a {bits}-bit membrane, got {steps}")
        self.bits = int(bits)
        self.steps = int(steps)
        self.unit = self.threshold / self.steps

    def initial(self) -> float:
        """``S // 2`` membrane units: half a threshold."""
        return float(self.steps // 2)

    def forward(self, current: Tensor) -> Tensor:
        """Integrate ``current`` for one timestep and return the spikes."""
        spikes, self.mem = integer_membrane_step(self.membrane(current), current, self.unit, self.steps,
                                                 self.bits)
        return spikes

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4f}, bits={self.bits}, steps={self.steps}"
