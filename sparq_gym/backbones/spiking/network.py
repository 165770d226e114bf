"""The spiking network with exits (SNN / QSNN / QDSNN): synapse layers, heads, the whole network.

See the package docstring (:mod:`sparq_gym.backbones.spiking`, sections
*Synapse layers*, *INT8 arithmetic* and *Outputs*) for what a synapse layer
computes and why its INT8 accumulator is exact.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparq_gym.backbones.model import run_layers, run_with_exits
from sparq_gym.backbones.spec import BackboneSpec, LayerSpec
from sparq_gym.backbones.spiking.neurons import IFNeuron
from sparq_gym.backbones.spiking.weights import LayerWeights, SpikingWeights

__all__ = ["SpikingHead", "SpikingNetwork", "SpikingSynapse"]

_EXACT_FLOAT32 = 2**24
"""Integers up to this magnitude are exact in float32."""


def _feeding_activation(spec: BackboneSpec, key: str) -> str | None:
    """Key of the activation whose spikes enter layer ``key`` (``None`` for the analog input)."""
    parts = key.split(".")
    if parts[0] == "blocks":
        i = int(parts[1])
        return None if i == 0 else f"activations.{i - 1}"
    k, j = int(parts[1]), int(parts[3])
    if j == 0:
        return f"activations.{spec.exits[k].after}"
    return f"heads.{k}.activations.{j - 1}"


class SpikingSynapse(nn.Module):
    """One synapse layer of the spiking network: sum-pool -> flatten -> conv/linear -> scale + bias.

    :param spec: the layer description.
    :param weights: folded weights (FP32 or INT8).
    :param in_scale: value of one unit of input: the sending layer's threshold
        for spikes, the input quantization scale for INT8 analog input, 1 for
        FP32 analog input.
    :param analog_input: the layer receives the image (MACs) rather than spikes.
    :param input_zero_point: INT8 analog input only: quantize the input to
        unsigned 8-bit codes with ``in_scale`` and this zero point.

    ``layer`` is a plain ``nn.Conv2d``/``nn.Linear`` holding the weights (INT8
    values stored as integer-valued float32; :meth:`int8_weight` returns them as
    ``torch.int8``) and the folded bias, so the operation counters see the usual
    module types; the forward pass applies the bias after the output scale.
    Shapes: as :class:`~sparq_gym.backbones.layers.SynapseBlock`.
    """

    def __init__(self, spec: LayerSpec, weights: LayerWeights, in_scale: float,
                 analog_input: bool = False, input_zero_point: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.analog_input = analog_input
        self.quantized = weights.weight_scale is not None
        self.input_zero_point = input_zero_point
        self.in_scale = float(in_scale)
        weight = torch.from_numpy(np.asarray(weights.weight).astype(np.float32))
        bias = torch.from_numpy(np.array(weights.bias, dtype=np.float32))  # a copy: never alias the arrays
        self.layer: nn.Conv2d | nn.Linear
        if spec.kind == "conv":
            self.layer = nn.Conv2d(spec.in_features, spec.out_features, spec.kernel_size,
                                   stride=spec.stride, padding=spec.padding)
        else:
            self.layer = nn.Linear(spec.in_features, spec.out_features)
        if tuple(self.layer.weight.shape) != tuple(weight.shape):
            raise ValueError(f"{spec.name}: expected weights of shape {tuple(self.layer.weight.shape)}, "
                             f"got {tuple(weight.shape)}")
        self.layer.weight = nn.Parameter(weight, requires_grad=False)
        self.layer.bias = nn.Parameter(bias, requires_grad=False)
        pool_area = spec.pool_before**2
        channel_scale = (torch.from_numpy(np.asarray(weights.weight_scale, dtype=np.float32))
                         if self.quantized else torch.ones(spec.out_features))
        self.register_buffer("out_scale", (channel_scale * (self.in_scale / pool_area)).float())
        if self.quantized:
            max_input = pool_area * (max(input_zero_point or 0, 255 - (input_zero_point or 0))
                                     if analog_input else 1)
            per_output = weight.abs().flatten(1).sum(1).max().item() * max_input
            self.accumulator_bound = int(per_output)
            self.accumulate_dtype = torch.float32 if per_output < _EXACT_FLOAT32 else torch.float64
        else:
            self.accumulator_bound = 0
            self.accumulate_dtype = torch.float32

    def int8_weight(self) -> Tensor:
        """The INT8 weights as a ``torch.int8`` tensor (INT8 layers only)."""
        if not self.quantized:
            raise ValueError(f"{self.spec.name}: layer has FP32 weights")
        return self.layer.weight.detach().to(torch.int8)

    def quantize_input(self, x: Tensor) -> Tensor:
        """INT8 analog layer: integer codes minus zero point, ``clamp(round(x/s) + z, 0, 255) - z``."""
        z = int(self.input_zero_point or 0)
        return torch.clamp(torch.round(x / self.in_scale) + z, 0, 255) - z

    def accumulate(self, x: Tensor) -> Tensor:
        """Sum-pool, flatten and apply the weights without scale or bias (the accumulator)."""
        k = self.spec.pool_before
        if k > 1:
            x = F.avg_pool2d(x, k, divisor_override=1)
        if self.spec.flatten_before:
            x = torch.flatten(x, 1)
        weight = self.layer.weight
        if self.accumulate_dtype != x.dtype:
            x, weight = x.to(self.accumulate_dtype), weight.to(self.accumulate_dtype)
        if isinstance(self.layer, nn.Conv2d):
            acc = F.conv2d(x, weight, None, self.layer.stride, self.layer.padding)
        else:
            acc = F.linear(x, weight)
        if self.quantized:
            acc = torch.round(acc)  # the exact integer accumulator (see the package docstring)
        return acc.float()

    def forward(self, x: Tensor) -> Tensor:
        """Input current of the receiving neurons for one timestep."""
        if self.quantized and self.analog_input:
            x = self.quantize_input(x)
        acc = self.accumulate(x)
        shape = (1, -1) + (1,) * (acc.dim() - 2)
        return acc * self.out_scale.view(shape) + self.layer.bias.view(shape)


class SpikingHead(nn.Module):
    """A spiking exit head: synapse layers with IF neurons, then the output integrator.

    :param blocks: the head's synapse layers.
    :param activations: one :class:`IFNeuron` per layer but the last.
    """

    def __init__(self, blocks: list[SpikingSynapse], activations: list[IFNeuron]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.activations = nn.ModuleList(activations)

    def forward(self, spikes: Tensor) -> Tensor:
        """Output current ``(N, num_classes)`` of one timestep from the backbone's spikes."""
        return run_layers(self.blocks, self.activations, spikes)


class SpikingNetwork(nn.Module):
    """The spiking network with exits (SNN / QSNN / QDSNN) built from :class:`SpikingWeights`.

    :param weights: converted FP32 or INT8 weights and thresholds.
    :param timesteps: number of timesteps ``T`` each input is presented for.

    Shapes: input ``(N, *spec.input_shape)`` normalized floats (as for the
    ANN); output a list of ``spec.n_exits`` tensors ``(N, num_classes)``: the
    mean over ``T`` of each output layer's input current, the final head last.
    Call under ``torch.no_grad()``.
    """

    def __init__(self, weights: SpikingWeights, timesteps: int) -> None:
        super().__init__()
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        spec = weights.spec
        self.spec = spec
        self.precision = weights.precision
        self.timesteps = int(timesteps)
        int8 = weights.precision == "int8"

        def synapse(key: str, layer_spec: LayerSpec) -> SpikingSynapse:
            source = _feeding_activation(spec, key)
            if source is None:
                scale = float(weights.input_scale) if int8 else 1.0  # type: ignore[arg-type]
                return SpikingSynapse(layer_spec, weights.layers[key], scale, analog_input=True,
                                      input_zero_point=weights.input_zero_point if int8 else None)
            return SpikingSynapse(layer_spec, weights.layers[key], weights.thresholds[source])

        self.blocks = nn.ModuleList(synapse(f"blocks.{i}", ls) for i, ls in enumerate(spec.layers))
        self.activations = nn.ModuleList(
            IFNeuron(weights.thresholds[f"activations.{i}"]) for i in range(len(spec.layers) - 1)
        )
        heads = []
        for k, ex in enumerate(spec.exits):
            blocks = [synapse(f"heads.{k}.blocks.{j}", ls) for j, ls in enumerate(ex.layers)]
            acts = [IFNeuron(weights.thresholds[f"heads.{k}.activations.{j}"])
                    for j in range(len(ex.layers) - 1)]
            heads.append(SpikingHead(blocks, acts))
        self.heads = nn.ModuleList(heads)
        self.exit_after: tuple[int, ...] = tuple(e.after for e in spec.exits)

    def reset(self) -> None:
        """Reset every neuron's membrane potential (done at the start of :meth:`forward`)."""
        for module in self.modules():
            if isinstance(module, IFNeuron):
                module.reset()

    def step(self, x: Tensor, with_exits: bool = True) -> list[Tensor]:
        """One timestep: the output current of every exit evaluated (final last)."""
        return run_with_exits(self, x, with_exits)

    def running_totals(self, x: Tensor, with_exits: bool = True) -> Iterator[list[Tensor]]:
        """Present ``x`` for ``T`` timesteps, yielding after each one every exit's summed output current.

        The ``t``-th item (``t = 1..T``) is the sum over the first ``t`` timesteps
        of each exit's output current (final last); divided by ``t`` it is the
        exit's output had the input been presented for ``t`` timesteps only (the
        network is causal in time). Neurons are reset before the first and after
        the last timestep. :meth:`forward` is the last item divided by ``T``;
        the depth x time trace extraction reads every item.
        """
        self.reset()
        totals: list[Tensor] | None = None
        for _ in range(self.timesteps):
            currents = self.step(x, with_exits)
            totals = currents if totals is None else [a + b for a, b in zip(totals, currents, strict=True)]
            yield totals
        self.reset()

    def forward(self, x: Tensor, with_exits: bool = True) -> list[Tensor]:
        """Present ``x`` for ``T`` timesteps; return the mean output current of every exit."""
        *_, totals = self.running_totals(x, with_exits)  # runs all T timesteps, then resets
        return [t / self.timesteps for t in totals]


