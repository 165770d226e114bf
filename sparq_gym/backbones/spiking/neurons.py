"""Integrate-and-fire neurons, the spiking replacement of the clip-floor-shift activation.

See the package docstring (:mod:`sparq_gym.backbones.spiking`, section
*Neuron*) for why the neurons do not leak and start at half the threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["IFNeuron"]


class IFNeuron(nn.Module):
    """A layer of integrate-and-fire neurons: ``snntorch.Leaky`` with ``beta = 1``, reset by subtraction.

    :param threshold: firing threshold ``lam`` (the ANN's learned clip); the
        membrane starts at ``lam / 2`` after :meth:`reset`.

    Shapes: input current and output spikes ``(N, ...)``; spikes are 0. or 1.
    Update per call (one timestep): ``U <- U + I - lam * S_prev``,
    ``S = [U > lam]``.
    """

    def __init__(self, threshold: float) -> None:
        super().__init__()
        import snntorch

        self.threshold = float(threshold)
        self.lif = snntorch.Leaky(beta=1.0, threshold=self.threshold, reset_mechanism="subtract")
        self.mem: Tensor | None = None

    def reset(self) -> None:
        """Forget the membrane potential; the next call starts from ``lam / 2``."""
        self.mem = None

    def forward(self, current: Tensor) -> Tensor:
        """Integrate ``current`` for one timestep and return the spikes."""
        if self.mem is None or self.mem.shape != current.shape:
            self.mem = torch.full_like(current, self.threshold / 2)
        spikes, self.mem = self.lif(current, self.mem)
        return spikes

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4f}"
