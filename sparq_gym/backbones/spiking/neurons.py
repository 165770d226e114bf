"""Integrate-and-fire neurons, the spiking replacement of the clip-floor-shift activation.

See the package docstring (:mod:`sparq_gym.backbones.spiking`, section
*Neuron*) for why the neurons do not leak and start at half the threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["IFNeuron", "MembraneLayer", "MultiLevelNeuron"]


class MembraneLayer(nn.Module):
    """Base of the neuron layers: a threshold and a membrane kept from one call (timestep) to the next.

    :param threshold: the firing threshold.

    :meth:`reset` forgets the membrane; :meth:`membrane` gives it for the current
    call, starting from :meth:`initial` (a subclass's resting value) after a
    reset or when the input's shape changes.
    """

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.mem: Tensor | None = None

    def initial(self) -> float:
        """The membrane potential after a reset (half a threshold or a level: the "shift")."""
        return self.threshold / 2

    def reset(self) -> None:
        """Forget the membrane potential; the next call starts from :meth:`initial`."""
        self.mem = None

    def membrane(self, current: Tensor) -> Tensor:
        """The membrane for a call with input ``current`` (started afresh when needed)."""
        if self.mem is None or self.mem.shape != current.shape:
            self.mem = torch.full_like(current, self.initial())
        return self.mem

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4f}"


class IFNeuron(MembraneLayer):
    """A layer of integrate-and-fire neurons: ``snntorch.Leaky`` with ``beta = 1``, reset by subtraction.

    :param threshold: firing threshold ``lam`` (the ANN's learned clip); the
        membrane starts at ``lam / 2`` after :meth:`reset`.

    Shapes: input current and output spikes ``(N, ...)``; spikes are 0. or 1.
    Update per call (one timestep): ``U <- U + I - lam * S_prev``,
    ``S = [U > lam]``.
    """

    def __init__(self, threshold: float) -> None:
        super().__init__(threshold)
        import snntorch

        self.lif = snntorch.Leaky(beta=1.0, threshold=self.threshold, reset_mechanism="subtract")

    def forward(self, current: Tensor) -> Tensor:
        """Integrate ``current`` for one timestep and return the spikes."""
        spikes, self.mem = self.lif(current, self.membrane(current))
        return spikes


class MultiLevelNeuron(MembraneLayer):
    """A layer of multi-level integrate-and-fire neurons (seed 004): an integer spike ``z`` per timestep.

    :param threshold: the ANN's learned clip ``lam``.
    :param levels: the largest spike ``N``; one level is worth ``theta = lam / N``.

    Update per call (one timestep), reset by subtraction::

        U <- U + I        z = clamp(floor(U / theta), 0, N)        U <- U - z * theta

    with ``U = theta / 2`` after :meth:`reset`. Over ``T`` timesteps the neuron
    has ``N*T + 1`` output levels; at ``T = 1`` and ``N = L`` its output
    ``theta * z = (lam/L) * clamp(floor(I*L/lam + 1/2), 0, L)`` is the
    clip-floor-shift activation itself (no conversion error). The output is the
    integer ``z`` (as a float tensor); the receiving synapse layer multiplies it
    by ``theta``.
    """

    def __init__(self, threshold: float, levels: int) -> None:
        super().__init__(threshold)
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.levels = int(levels)
        self.level = self.threshold / self.levels

    def initial(self) -> float:
        """Half a level, ``theta / 2``."""
        return self.level / 2

    def forward(self, current: Tensor) -> Tensor:
        """Integrate ``current`` for one timestep and return the integer spikes ``z``."""
        mem = self.membrane(current) + current
        spikes = torch.clamp(torch.floor(mem / self.level), 0, self.levels)
        self.mem = mem - spikes * self.level
        return spikes

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4f}, levels={self.levels}"
