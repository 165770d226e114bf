"""Conversion of a trained clip-floor-shift ANN into FP32 spiking weights, BatchNorm folded.

:func:`fold_batch_norm` folds a synapse block's BatchNorm (eval statistics)
into its layer's weight and bias; :func:`convert` does it for every layer and
takes each activation's learned clip as the neuron threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sparq_gym.backbones.layers import SynapseBlock
from sparq_gym.backbones.model import ExitNetwork
from sparq_gym.backbones.spiking.weights import LayerWeights, SpikingWeights, activation_keys, layer_keys

__all__ = ["convert", "fold_batch_norm"]


def fold_batch_norm(block: SynapseBlock) -> tuple[Tensor, Tensor]:
    """Return the weight and bias of ``block``'s layer with its BatchNorm (eval statistics) folded in.

    ``BN(W x + b) = g (W x + b - mu) / sqrt(var + eps) + beta``, so the folded
    weight is ``W * g / sqrt(var + eps)`` (per output channel) and the folded
    bias ``(b - mu) * g / sqrt(var + eps) + beta``. Without BatchNorm the layer's
    own weight and bias are returned (copies, float32).
    """
    layer = block.layer
    weight = layer.weight.detach().float().clone()
    bias = (layer.bias.detach().float().clone() if layer.bias is not None
            else torch.zeros(weight.shape[0]))
    norm = block.norm
    if isinstance(norm, nn.BatchNorm1d | nn.BatchNorm2d):
        assert norm.running_mean is not None and norm.running_var is not None
        gamma = norm.weight.detach().float() if norm.affine else torch.ones_like(bias)
        beta = norm.bias.detach().float() if norm.affine else torch.zeros_like(bias)
        factor = gamma / torch.sqrt(norm.running_var.float() + norm.eps)
        weight = weight * factor.view(-1, *([1] * (weight.dim() - 1)))
        bias = (bias - norm.running_mean.float()) * factor + beta
    return weight, bias


def convert(network: ExitNetwork, mean: tuple[float, ...], std: tuple[float, ...],
            provenance: dict[str, Any] | None = None) -> SpikingWeights:
    """Convert a trained clip-floor-shift ANN into FP32 spiking weights.

    Folds every BatchNorm (eval statistics) into its layer and takes each
    activation's learned clip as the neuron threshold. ``mean``/``std`` are the
    input normalization the ANN was trained with. The result builds the FP32
    SNN with :class:`SpikingNetwork` (any ``T``).
    """
    spec = network.spec
    layers: dict[str, LayerWeights] = {}
    thresholds: dict[str, float] = {}
    modules = dict(network.named_modules())
    for key in layer_keys(spec):
        weight, bias = fold_batch_norm(modules[key])  # type: ignore[arg-type]
        layers[key] = LayerWeights(weight.numpy().astype(np.float32), bias.numpy().astype(np.float32))
    for key in activation_keys(spec):
        thresholds[key] = float(modules[key].clip.detach())  # type: ignore[union-attr]
    return SpikingWeights(spec=spec, precision="fp32", layers=layers, thresholds=thresholds,
                          mean=tuple(mean), std=tuple(std), provenance=dict(provenance or {}))
