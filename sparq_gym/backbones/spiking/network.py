"""The spiking network with exits (SNN / QSNN / QDSNN): synapse layers, heads, the whole network.

See the package docstring (:mod:`sparq_gym.backbones.spiking`, sections
*Synapse layers*, *INT8 arithmetic* and *Outputs*) for what a synapse layer
computes and why its INT8 accumulator is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparq_gym.backbones.model import run_layers, run_with_exits
from sparq_gym.backbones.spec import BackboneSpec, LayerSpec
from sparq_gym.backbones.spiking.integer_membrane import IntegerMembraneNeuron
from sparq_gym.backbones.spiking.neurons import IFNeuron, MembraneLayer, MultiLevelNeuron
from sparq_gym.backbones.spiking.weights import LayerWeights, SpikingWeights

__all__ = ["SpikingHead", "SpikingNetwork", "SpikingSynapse", "assemble", "feeding_activation"]

_EXACT_FLOAT32 = 2**24
"""Integers up to this magnitude are exact in float32."""


def feeding_activation(spec: BackboneSpec, key: str) -> str | None:
    """Key of the activation whose spikes enter layer ``key`` (``None`` for the analog input)."""
    parts = key.split(".")
    if parts[0] == "blocks":
        i = int(parts[1])
        return None if i == 0 else f"activations.{i - 1}"
    k, j = int(parts[1]), int(parts[3])
    if j == 0:
        return f"activations.{spec.exits[k].after}"
    return f"heads.{k}.activations.{j - 1}"


def _stored_weights(shape: tuple[int, ...], out_mask: np.ndarray, in_mask: np.ndarray | None) -> int:
    """Weights and biases a pruned layer keeps: rows of active outputs x columns of active inputs.

    ``shape`` is the weight's; ``in_mask`` masks the sending layer's channels
    (a linear layer fed by a flattened conv output has ``in // len(in_mask)``
    columns per channel).
    """
    rows = int(out_mask.sum())
    columns = shape[1]
    if in_mask is not None:
        per_channel = shape[1] // len(in_mask)
        columns = int(np.asarray(in_mask, dtype=bool).sum()) * per_channel
    kernel = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return rows * columns * kernel + rows


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
    :param max_spike: the largest spike a sending neuron emits per timestep
        (1 for binary spikes, ``N`` for multi-level neurons); bounds the accumulator.
    :param active: pruned layers only: boolean mask of the output channels that
        exist (the others output nothing); sets ``active_outputs``.
    :param input_active: pruned layers only: mask of the sending layer's
        channels that exist; with ``active`` it sets ``stored_weights``, the
        weights and biases a pruned layer keeps (what the counters read).
    :param weight_bits: integer weights narrower than 8 bits (``spquant``): their
        width, read by the memory counter instead of the memory model's.

    ``layer`` is a plain ``nn.Conv2d``/``nn.Linear`` holding the weights (INT8
    values stored as integer-valued float32; :meth:`int8_weight` returns them as
    ``torch.int8``) and the folded bias, so the operation counters see the usual
    module types; the forward pass applies the bias after the output scale.
    Shapes: as :class:`~sparq_gym.backbones.layers.SynapseBlock`.
    """

    def __init__(self, spec: LayerSpec, weights: LayerWeights, in_scale: float,
                 analog_input: bool = False, input_zero_point: int | None = None,
                 max_spike: int = 1, active: np.ndarray | None = None,
                 input_active: np.ndarray | None = None, weight_bits: int | None = None) -> None:
        super().__init__()
        if weight_bits is not None:
            self.weight_bits = int(weight_bits)  # read by the memory counter
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
                                     if analog_input else max_spike)
            per_output = weight.abs().flatten(1).sum(1).max().item() * max_input
            self.accumulator_bound = int(per_output)
            self.accumulate_dtype = torch.float32 if per_output < _EXACT_FLOAT32 else torch.float64
        else:
            self.accumulator_bound = 0
            self.accumulate_dtype = torch.float32
        self.register_buffer("mask", None)
        if active is not None or input_active is not None:
            out_mask = (np.ones(spec.out_features, dtype=bool) if active is None
                        else np.asarray(active, dtype=bool))
            if out_mask.shape != (spec.out_features,):
                raise ValueError(f"{spec.name}: active mask of shape {out_mask.shape}, expected "
                                 f"({spec.out_features},)")
            self.active_outputs = int(out_mask.sum())
            self.stored_weights = _stored_weights(tuple(weight.shape), out_mask, input_active)
            self.mask = torch.from_numpy(out_mask.astype(np.float32))

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
        current = acc * self.out_scale.view(shape) + self.layer.bias.view(shape)
        return current if self.mask is None else current * self.mask.view(shape)


class SpikingHead(nn.Module):
    """A spiking exit head: synapse layers with IF neurons, then the output integrator.

    :param blocks: the head's synapse layers.
    :param activations: one :class:`IFNeuron` per layer but the last.
    """

    def __init__(self, blocks: list[SpikingSynapse], activations: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.activations = nn.ModuleList(activations)

    def forward(self, spikes: Tensor) -> Tensor:
        """Output current ``(N, num_classes)`` of one timestep from the backbone's spikes."""
        return run_layers(self.blocks, self.activations, spikes)


def assemble(network: nn.Module, spec: BackboneSpec, synapse: Callable[[str, LayerSpec], nn.Module],
             neuron: Callable[[str], nn.Module]) -> None:
    """Give ``network`` the layout that ``run_with_exits`` and the counters read.

    ``blocks`` (``synapse("blocks.i", layer)``), ``activations`` (``neuron("activations.i")``,
    every block but the last), ``heads`` (one :class:`SpikingHead` per exit, built the same
    way from the ``heads.k.*`` keys) and ``exit_after``. Shared by :class:`SpikingNetwork`
    and the trainable SpQuant network.
    """
    network.blocks = nn.ModuleList(synapse(f"blocks.{i}", ls) for i, ls in enumerate(spec.layers))
    network.activations = nn.ModuleList(neuron(f"activations.{i}") for i in range(len(spec.layers) - 1))
    heads = []
    for k, ex in enumerate(spec.exits):
        blocks = [synapse(f"heads.{k}.blocks.{j}", ls) for j, ls in enumerate(ex.layers)]
        acts = [neuron(f"heads.{k}.activations.{j}") for j in range(len(ex.layers) - 1)]
        heads.append(SpikingHead(blocks, acts))
    network.heads = nn.ModuleList(heads)
    network.exit_after = tuple(e.after for e in spec.exits)


class SpikingNetwork(nn.Module):
    """The spiking network with exits (SNN / QSNN / QDSNN) built from :class:`SpikingWeights`.

    :param weights: converted FP32 or INT8 weights and thresholds.
    :param timesteps: number of timesteps ``T`` each input is presented for.
    :param spike_levels: 1 (default): binary integrate-and-fire neurons
        (:class:`IFNeuron`); ``N > 1``: multi-level neurons emitting an integer
        spike ``0..N`` per timestep (:class:`MultiLevelNeuron`, seed 004), whose
        receiving layers take one level (``lam / N``) as their input unit.

    Shapes: input ``(N, *spec.input_shape)`` normalized floats (as for the
    ANN); output a list of ``spec.n_exits`` tensors ``(N, num_classes)``: the
    mean over ``T`` of each output layer's input current, the final head last.
    Call under ``torch.no_grad()``.
    """

    blocks: nn.ModuleList
    activations: nn.ModuleList
    heads: nn.ModuleList
    exit_after: tuple[int, ...]

    def __init__(self, weights: SpikingWeights, timesteps: int, spike_levels: int = 1) -> None:
        super().__init__()
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        if spike_levels < 1:
            raise ValueError(f"spike_levels must be >= 1, got {spike_levels}")
        self.spike_levels = int(spike_levels)
        self.neuron_model = dict(weights.neuron)
        self.layer_weight_bits = dict(weights.weight_bits)
        spec = weights.spec
        self.spec = spec
        self.precision = weights.precision
        self.timesteps = int(timesteps)
        int8 = weights.precision == "int8"

        kind = weights.neuron.get("kind", "if")
        if kind == "integer_membrane" and spike_levels != 1:
            raise ValueError("integer-membrane neurons emit binary spikes: spike_levels must be 1")
        pruned = bool(weights.active)

        def synapse(key: str, layer_spec: LayerSpec) -> SpikingSynapse:
            source = feeding_activation(spec, key)
            own = key.replace("blocks", "activations")
            bits = {"weight_bits": weights.weight_bits[key]} if key in weights.weight_bits else {}
            masks = {"active": weights.active.get(own),
                     "input_active": weights.active.get(source) if source else None} if pruned else {}
            if source is None:
                scale = float(weights.input_scale) if int8 else 1.0  # type: ignore[arg-type]
                return SpikingSynapse(layer_spec, weights.layers[key], scale, analog_input=True,
                                      input_zero_point=weights.input_zero_point if int8 else None,
                                      **masks, **bits)
            return SpikingSynapse(layer_spec, weights.layers[key],
                                  weights.thresholds[source] / self.spike_levels,
                                  max_spike=self.spike_levels, **masks, **bits)

        def neuron(key: str) -> nn.Module:
            if kind == "integer_membrane":
                return IntegerMembraneNeuron(weights.thresholds[key], int(weights.neuron["membrane_bits"]),
                                             int(weights.neuron["steps"]))
            if self.spike_levels == 1:
                return IFNeuron(weights.thresholds[key])
            return MultiLevelNeuron(weights.thresholds[key], self.spike_levels)

        assemble(self, spec, synapse, neuron)

    def reset(self) -> None:
        """Reset every neuron's membrane potential (done at the start of :meth:`forward`)."""
        for module in self.modules():
            if isinstance(module, MembraneLayer):
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


