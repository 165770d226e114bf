"""ANN-to-SNN conversion: the clip-floor-shift ANN becomes an integrate-and-fire network.

Neuron
    Every clip-floor-shift activation of the trained ANN (backbone and exit
    heads) becomes a layer of :class:`snntorch.Leaky` neurons with ``beta = 1``
    (no leak: an integrate-and-fire neuron), reset by subtraction, threshold =
    the learned clip ``lam`` and initial membrane potential ``lam / 2``. Per
    timestep ``t`` (snntorch's update, written out)::

        U[t] = U[t-1] + I[t] - lam * S[t-1]        S[t] = 1 if U[t] > lam else 0

    With a constant input current ``I`` this neuron fires
    ``clamp(floor(I*T/lam + 1/2), 0, T)`` spikes in ``T`` steps, so at ``T = L``
    its rate times ``lam`` is exactly the clip-floor-shift output
    ``(lam/L) * clamp(floor(I*L/lam + 1/2), 0, L)`` (the initial ``lam/2`` is the
    "shift"; ties at exact half-levels round down here and up in the ANN). A
    leak (``beta < 1``) would lose charge between spikes and break this
    identity, which is why the neurons do not leak. Deeper layers receive
    spike trains instead of constant currents, so the identity holds for them
    only on average (the residual is the usual "unevenness" conversion error).

Synapse layers
    BatchNorm is folded into the conv/linear weights and biases. Neurons emit
    binary spikes ``S in {0, 1}``; the threshold of the sending layer is folded
    into the receiving layer's per-channel output scale, so a spike-fed layer
    computes ``I = (W * sumpool(S)) * out_scale + b`` with
    ``out_scale = lam_prev * s_w / k^2`` (``k``: the average-pool kernel in front
    of the layer, computed as a sum-pool; ``s_w``: 1 for FP32 weights, the
    per-output-channel scale for INT8 weights). The first layer receives the
    analog (normalized) image at every timestep (direct encoding); with INT8
    weights that image is first quantized to unsigned 8 bits (scale and zero
    point learned by the QAT observers).

INT8 arithmetic
    With INT8 weights the product ``W * sumpool(S)`` is an integer accumulator:
    int8 weights times small non-negative integers (spike counts of a pool
    window, or the 8-bit input codes minus their zero point). It is computed
    with float32 kernels on integer-valued tensors, which is exact because
    every partial sum is an integer bounded by ``sum|w| * max|input|``; that
    bound is checked per layer when the network is built and a layer whose
    bound reaches ``2**24`` (float32's exact-integer range) accumulates in
    float64 instead. The accumulator is rounded to the nearest integer before
    scaling, so the result equals an int32 accumulation (shown by
    ``tests/backbones/test_spiking.py``) and does not depend on batch size or
    thread count.

Calibration
    At ``T = L`` the deeper layers fire a little off their ANN levels because
    their input spikes are uneven in time. :func:`calibrate_biases` corrects
    each layer's bias per channel so that its mean output over a few training
    images matches the ANN's (weights unchanged); the pipeline applies it to
    the INT8 network (on LeNet's hold-out: 98.30 % -> 98.62 % at T=4).

Outputs
    The last layer of the backbone and of every head has no neuron: its
    output is the mean over the ``T`` timesteps of its input current (the
    membrane potential of a non-firing integrator divided by ``T``).

The network exposes ``blocks``, ``activations``, ``heads[k].blocks``,
``heads[k].activations`` and ``exit_after`` like
:class:`~sparq_gym.backbones.model.ExitNetwork`, so
:class:`sparq_gym.traces.counters.OpCounter` counts it unchanged (run in ``spiking=True``
mode; every timestep calls each layer once).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from sparq_gym.backbones.layers import SynapseBlock
from sparq_gym.backbones.model import ExitNetwork, run_with_exits
from sparq_gym.backbones.spec import BackboneSpec, LayerSpec
from sparq_gym.io import atomic_save_npz, atomic_write_json, read_json, sha256_file

__all__ = [
    "WEIGHTS_FORMAT_VERSION",
    "IFNeuron",
    "LayerWeights",
    "SpikingHead",
    "SpikingNetwork",
    "SpikingSynapse",
    "SpikingWeights",
    "activation_keys",
    "calibrate_biases",
    "convert",
    "fold_batch_norm",
    "layer_keys",
    "load_weights",
    "save_weights",
]

WEIGHTS_FORMAT_VERSION = 1
"""Version of the ``.npz`` + ``.json`` weight files written by :func:`save_weights`."""

Precision = Literal["fp32", "int8"]

_EXACT_FLOAT32 = 2**24
"""Integers up to this magnitude are exact in float32."""


# --------------------------------------------------------------------------- weights


@dataclass
class LayerWeights:
    """Weights of one synapse layer with BatchNorm folded in.

    :param weight: conv ``(C_out, C_in, k, k)`` or linear ``(out, in)`` weights;
        float32 for FP32 networks, int8 for INT8 networks.
    :param bias: float32 ``(C_out,)`` folded bias.
    :param weight_scale: float32 ``(C_out,)`` per-output-channel scale of INT8
        weights (``w ~ weight * weight_scale``); ``None`` for FP32.
    """

    weight: NDArray[Any]
    bias: NDArray[np.float32]
    weight_scale: NDArray[np.float32] | None = None


@dataclass
class SpikingWeights:
    """Everything needed to build a spiking network: description, weights, thresholds.

    Layer and threshold keys follow the ANN's module names: ``"blocks.0"``,
    ``"heads.1.blocks.0"``; ``"activations.0"``, ``"heads.1.activations.0"``.

    :param spec: the backbone description.
    :param precision: ``"fp32"`` or ``"int8"``.
    :param layers: weights of every synapse layer, by key.
    :param thresholds: neuron threshold (the learned clip) of every activation, by key.
    :param mean: per-channel normalization mean of the input pixels (in [0, 1]).
    :param std: per-channel normalization standard deviation.
    :param input_scale: INT8 only: scale of the unsigned 8-bit input quantization.
    :param input_zero_point: INT8 only: its zero point (code of the value 0).
    :param provenance: JSON-able notes (source checkpoint, QAT record, ...).
    """

    spec: BackboneSpec
    precision: Precision
    layers: dict[str, LayerWeights]
    thresholds: dict[str, float]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_scale: float | None = None
    input_zero_point: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be 'fp32' or 'int8', got {self.precision!r}")
        if self.precision == "int8":
            if self.input_scale is None or self.input_zero_point is None:
                raise ValueError("int8 weights need input_scale and input_zero_point")
            for key, layer in self.layers.items():
                if layer.weight.dtype != np.int8 or layer.weight_scale is None:
                    raise ValueError(f"int8 layer {key!r} needs int8 weights and a weight_scale")
        expected = set(layer_keys(self.spec))
        if set(self.layers) != expected:
            raise ValueError(f"layers must be exactly {sorted(expected)}, got {sorted(self.layers)}")
        expected_act = set(activation_keys(self.spec))
        if set(self.thresholds) != expected_act:
            raise ValueError(
                f"thresholds must be exactly {sorted(expected_act)}, got {sorted(self.thresholds)}"
            )
        bad = {k: v for k, v in self.thresholds.items() if not v > 0}
        if bad:
            raise ValueError(f"thresholds must be > 0, got {bad}")


def layer_keys(spec: BackboneSpec) -> Iterator[str]:
    """Keys of every synapse layer: ``blocks.i`` then ``heads.k.blocks.j`` (module names of the ANN)."""
    for i in range(len(spec.layers)):
        yield f"blocks.{i}"
    for k, ex in enumerate(spec.exits):
        for j in range(len(ex.layers)):
            yield f"heads.{k}.blocks.{j}"


def activation_keys(spec: BackboneSpec) -> Iterator[str]:
    """Keys of every neuron layer: ``activations.i`` then ``heads.k.activations.j``."""
    for i in range(len(spec.layers) - 1):
        yield f"activations.{i}"
    for k, ex in enumerate(spec.exits):
        for j in range(len(ex.layers) - 1):
            yield f"heads.{k}.activations.{j}"


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


def save_weights(weights: SpikingWeights, directory: str | os.PathLike[str], stem: str) -> dict[str, Any]:
    """Write ``weights`` as ``<stem>.npz`` (plain arrays) and ``<stem>.json`` (config); return the config.

    The archive holds, per layer key, ``<key>.weight`` (int8 or float32),
    ``<key>.bias`` (float32) and for INT8 ``<key>.weight_scale`` (float32), and
    per activation key ``<key>.threshold`` (float32 scalar). The JSON holds the
    backbone description, precision, input quantization, normalization,
    provenance and the archive's sha256. Both writes are atomic; no pickles.
    """
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    for key, layer in weights.layers.items():
        arrays[f"{key}.weight"] = layer.weight
        arrays[f"{key}.bias"] = layer.bias.astype(np.float32)
        if layer.weight_scale is not None:
            arrays[f"{key}.weight_scale"] = layer.weight_scale.astype(np.float32)
    for key, value in weights.thresholds.items():
        arrays[f"{key}.threshold"] = np.float32(value)
    archive = directory / f"{stem}.npz"
    atomic_save_npz(archive, **arrays)
    config = {
        "format_version": WEIGHTS_FORMAT_VERSION,
        "precision": weights.precision,
        "spec": weights.spec.to_dict(),
        "mean": list(weights.mean),
        "std": list(weights.std),
        "input_scale": weights.input_scale,
        "input_zero_point": weights.input_zero_point,
        "layers": list(weights.layers),
        "thresholds": list(weights.thresholds),
        "archive": archive.name,
        "sha256": sha256_file(archive),
        "provenance": weights.provenance,
    }
    atomic_write_json(directory / f"{stem}.json", config)
    return config


def load_weights(directory: str | os.PathLike[str], stem: str, verify: bool = True) -> SpikingWeights:
    """Read weights written by :func:`save_weights` (checks format version and sha256)."""
    directory = Path(directory)
    config_path = directory / f"{stem}.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{config_path}: weight config not found")
    config = read_json(config_path)
    if config.get("format_version") != WEIGHTS_FORMAT_VERSION:
        raise ValueError(f"{config_path}: format_version {config.get('format_version')!r} is not "
                         f"{WEIGHTS_FORMAT_VERSION}")
    archive = directory / config["archive"]
    if not archive.exists():
        raise FileNotFoundError(f"{archive}: weight archive listed in {config_path.name} is missing")
    if verify and sha256_file(archive) != config["sha256"]:
        raise ValueError(f"{archive}: sha256 differs from {config_path.name}; the file is corrupt or edited")
    with np.load(archive, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    layers = {}
    for key in config["layers"]:
        scale = arrays.get(f"{key}.weight_scale")
        layers[key] = LayerWeights(arrays[f"{key}.weight"], arrays[f"{key}.bias"], scale)
    thresholds = {key: float(arrays[f"{key}.threshold"]) for key in config["thresholds"]}
    return SpikingWeights(
        spec=BackboneSpec.from_dict(config["spec"]),
        precision=config["precision"],
        layers=layers,
        thresholds=thresholds,
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        input_scale=config["input_scale"],
        input_zero_point=config["input_zero_point"],
        provenance=config.get("provenance", {}),
    )


# --------------------------------------------------------------------------- modules


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
            acc = torch.round(acc)  # the exact integer accumulator (see the module docstring)
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
        x = spikes
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.activations):
                x = self.activations[i](x)
        return x


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

    def forward(self, x: Tensor, with_exits: bool = True) -> list[Tensor]:
        """Present ``x`` for ``T`` timesteps; return the mean output current of every exit."""
        self.reset()
        totals: list[Tensor] | None = None
        for _ in range(self.timesteps):
            currents = self.step(x, with_exits)
            totals = currents if totals is None else [a + b for a, b in zip(totals, currents, strict=True)]
        assert totals is not None
        self.reset()
        return [t / self.timesteps for t in totals]


# --------------------------------------------------------------------------- calibration


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
