"""Bias calibration of a spiking network against the ANN it was converted from.

See the package docstring (:mod:`sparq_gym.backbones.spiking`, section
*Calibration*): each neuron layer's bias is corrected per channel so that its
mean output over a few training images matches the ANN's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from sparq_gym.backbones.spiking.network import SpikingNetwork
from sparq_gym.backbones.spiking.neurons import IFNeuron
from sparq_gym.backbones.spiking.weights import LayerWeights, SpikingWeights, activation_keys

__all__ = ["calibrate_biases"]


def _channel_means(network: nn.Module, x: Tensor, kind: type[nn.Module],
                   scale_by_threshold: bool) -> dict[str, Tensor]:
    """Mean output per channel (axis 1) of every ``kind`` module of ``network`` over one forward pass.

    For a spiking network every timestep's spikes are summed (times the
    threshold when ``scale_by_threshold``), so dividing by ``T`` gives the mean
    output value per timestep, comparable with the ANN's activation value.
    """
    sums: dict[str, Tensor] = {}
    handles = []
    for name, module in network.named_modules():
        if isinstance(module, kind):
            def hook(mod: nn.Module, inputs: tuple[Tensor, ...], output: Tensor, name: str = name) -> None:
                dims = [0, *range(2, output.dim())]
                value = output.detach().float().mean(dim=dims)
                if scale_by_threshold:
                    value = value * mod.threshold
                sums[name] = sums.get(name, 0) + value

            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            network(x)
    finally:
        for handle in handles:
            handle.remove()
    return sums


def calibrate_biases(weights: SpikingWeights, reference: nn.Module, x: Tensor,
                     timesteps: int) -> tuple[SpikingWeights, dict[str, float]]:
    """Correct the biases so that every neuron layer's mean output matches the reference ANN's.

    Bias calibration (in the spirit of Li et al., 2021, "A free lunch from
    ANN: towards efficient, accurate spiking neural networks calibration"):
    for each neuron layer in order (backbone first, then the heads), run the
    spiking network for ``timesteps`` on the calibration images ``x`` and add
    to the bias of the synapse layer feeding it, per channel, the difference
    between the reference's mean activation and the spiking layer's mean
    output (``threshold x spikes / T``). Each layer is corrected with the
    earlier layers already corrected. This reduces the conversion error that
    uneven spike timing leaves at low ``T``; the weights themselves (INT8
    stays INT8) are not changed. ``reference`` is the ANN the network was
    converted from (for INT8 weights: the QAT network), whose activation
    modules carry the same names (``activations.i``, ``heads.k.activations.j``).
    Use training images, never the evaluation splits. Returns the corrected
    weights (a new object) and the mean absolute correction per layer.
    """
    from sparq_gym.backbones.layers import ClipFloorShift

    was_training = reference.training
    reference.eval()
    target = _channel_means(reference, x, ClipFloorShift, scale_by_threshold=False)
    reference.train(was_training)
    layers = {key: LayerWeights(lw.weight, lw.bias.copy(), lw.weight_scale)
              for key, lw in weights.layers.items()}
    network = SpikingNetwork(weights, timesteps)
    modules = dict(network.named_modules())
    corrections: dict[str, float] = {}
    for key in activation_keys(weights.spec):
        if key not in target:
            raise ValueError(f"reference network has no activation module {key!r}")
        spiking = _channel_means(network, x, IFNeuron, scale_by_threshold=True)[key] / timesteps
        delta = target[key] - spiking
        block_key = key.replace("activations", "blocks")
        block = modules[block_key]
        with torch.no_grad():
            block.layer.bias += delta  # type: ignore[operator]
        layers[block_key].bias = block.layer.bias.detach().numpy().astype(np.float32).copy()  # type: ignore[union-attr]
        corrections[key] = float(delta.abs().mean())
    calibrated = SpikingWeights(
        spec=weights.spec, precision=weights.precision, layers=layers, thresholds=dict(weights.thresholds),
        mean=weights.mean, std=weights.std, input_scale=weights.input_scale,
        input_zero_point=weights.input_zero_point,
        provenance={**weights.provenance, "bias_calibration": {
            "images": int(x.shape[0]), "timesteps": int(timesteps), "mean_abs_correction": corrections}},
    )
    return calibrated, corrections
