"""Building blocks of the backbones: the synapse layer and the clip-floor-shift activation.

Activation for low-timestep conversion (QCFS, clip-floor-shift)
    ``y = (lam / L) * clamp(floor(x * L / lam + 1/2), 0, L)`` with a learnable
    clip ``lam`` per layer and ``L`` levels (``L = 4`` by default). The output
    takes the values ``0, lam/L, ..., lam``: exactly what a reset-by-subtraction
    integrate-and-fire neuron with threshold ``lam`` can emit over ``T = L``
    timesteps (``k`` spikes of height ``lam`` averaged over ``T`` steps), and the
    shift by half a step makes the expected conversion error zero. This trained
    ANN is the one the conversion stage turns into an SNN whose thresholds are
    the learned clips.

    Gradient (straight-through on the floor): inside the clip range
    ``0 < x < lam`` it is 1 with respect to ``x`` and ``q - x/lam`` with respect
    to ``lam`` (``q = y / lam``, the quantized level); above the range it is 0
    with respect to ``x`` and 1 with respect to ``lam``; below zero both are 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sparq_gym.backbones.spec import LayerSpec

__all__ = ["ClipFloorShift", "SynapseBlock", "clip_floor_shift"]


class _ClipFloorShiftFn(torch.autograd.Function):
    """Autograd function of :func:`clip_floor_shift` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, clip: Tensor, levels: int) -> Tensor:
        ctx.save_for_backward(x, clip)
        ctx.levels = levels
        q = torch.clamp(torch.floor(x * (levels / clip) + 0.5), 0, levels)
        return q * (clip / levels)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        x, clip = ctx.saved_tensors
        levels = ctx.levels
        scaled = x / clip
        inside = (scaled > 0) & (scaled < 1)
        q = torch.clamp(torch.floor(scaled * levels + 0.5), 0, levels) / levels
        grad_x = grad * inside
        # d y / d lam: q - x/lam inside the range, 1 above it, 0 below zero.
        dclip = torch.where(inside, q - scaled, (scaled >= 1).to(grad.dtype))
        grad_clip = (grad * dclip).sum().reshape(clip.shape)
        return grad_x, grad_clip, None


def clip_floor_shift(x: Tensor, clip: Tensor, levels: int) -> Tensor:
    """Quantized clipped activation ``(clip/L) * clamp(floor(x*L/clip + 1/2), 0, L)``.

    ``x`` is any tensor, ``clip`` a positive scalar tensor (learnable), ``levels``
    the number ``L`` of non-zero output levels; the result has the shape of ``x``
    and values in ``{0, clip/L, ..., clip}``. Gradients are straight-through on
    the floor as described in the module docstring.
    """
    return _ClipFloorShiftFn.apply(x, clip, levels)


class ClipFloorShift(nn.Module):
    """Clip-floor-shift activation with a learnable clip (the converted neuron's threshold).

    :param levels: number ``L`` of non-zero levels (``L = T`` timesteps of the SNN).
    :param clip_init: initial clip value ``lam``.

    Shapes: input and output have the same shape ``(N, ...)``.
    """

    def __init__(self, levels: int = 4, clip_init: float = 2.0) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if clip_init <= 0:
            raise ValueError(f"clip_init must be > 0, got {clip_init}")
        self.levels = int(levels)
        self.clip = nn.Parameter(torch.tensor(float(clip_init)))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation; under autocast the clip is cast to ``x``'s dtype."""
        return clip_floor_shift(x, self.clip.to(x.dtype), self.levels)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, clip={float(self.clip.detach()):.4f}"


class SynapseBlock(nn.Module):
    """One synapse layer: avg-pool (optional) -> flatten (optional) -> conv/linear -> BatchNorm.

    :param spec: the layer description.
    :param analog_input: the block receives analog values (the pixels) rather
        than the output of a neuron layer; after conversion this layer computes
        with MACs, the others with spike-driven accumulates.

    Shapes: input ``(N, C, H, W)`` (or ``(N, F)`` for a linear layer without
    flatten), output ``(N, C_out, H_out, W_out)`` or ``(N, out_features)``.
    """

    def __init__(self, spec: LayerSpec, analog_input: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.analog_input = analog_input
        self.pool: nn.Module | None = (
            nn.AvgPool2d(spec.pool_before) if spec.pool_before > 1 else None
        )
        self.layer: nn.Conv2d | nn.Linear
        if spec.kind == "conv":
            self.layer = nn.Conv2d(spec.in_features, spec.out_features, spec.kernel_size,
                                   stride=spec.stride, padding=spec.padding)
            self.norm: nn.Module = nn.BatchNorm2d(spec.out_features) if spec.batch_norm else nn.Identity()
        elif spec.kind == "linear":
            self.layer = nn.Linear(spec.in_features, spec.out_features)
            self.norm = nn.BatchNorm1d(spec.out_features) if spec.batch_norm else nn.Identity()
        else:
            raise ValueError(f"layer kind must be 'conv' or 'linear', got {spec.kind!r}")

    def forward(self, x: Tensor) -> Tensor:
        """Pool, flatten, apply the layer and the BatchNorm."""
        if self.pool is not None:
            x = self.pool(x)
        if self.spec.flatten_before:
            x = torch.flatten(x, 1)
        return self.norm(self.layer(x))
