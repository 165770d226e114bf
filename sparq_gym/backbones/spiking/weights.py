"""The weights of a spiking network and their on-disk format (``.npz`` arrays + ``.json`` config).

:class:`SpikingWeights` holds everything a :class:`~sparq_gym.backbones.spiking.network.SpikingNetwork`
is built from: the backbone description, the folded weights of every synapse
layer (:class:`LayerWeights`, FP32 or INT8 with per-channel scales), the neuron
thresholds and the input normalization and quantization. Layers and neurons are
keyed by the ANN's module names (:func:`layer_keys`, :func:`activation_keys`).
:func:`save_weights` and :func:`load_weights` write and read them as plain
arrays and JSON, without pickles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sparq_gym.backbones.spec import BackboneSpec
from sparq_gym.io import atomic_save_npz, atomic_write_json, read_json, sha256_file

__all__ = [
    "WEIGHTS_FORMAT_VERSION",
    "LayerWeights",
    "Precision",
    "SpikingWeights",
    "activation_keys",
    "layer_keys",
    "load_weights",
    "save_weights",
]

WEIGHTS_FORMAT_VERSION = 1
"""Version of the ``.npz`` + ``.json`` weight files written by :func:`save_weights`."""

Precision = Literal["fp32", "int8"]


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
    :param weight_bits: bits of the integer weights per layer key where they
        are not 8 (``spquant``'s 4-bit layers, whose values in ``[-7, 7]`` are
        kept in int8 arrays).
    :param neuron: the neuron model: ``{}`` or ``{"kind": "if"}`` for
        integrate-and-fire with a float membrane;
        ``{"kind": "integer_membrane", "membrane_bits": B, "steps": S}`` for
        :class:`~sparq_gym.backbones.spiking.integer_membrane.IntegerMembraneNeuron`.
    :param active: per activation key, a boolean mask of the channels (conv) or
        units (linear) that survive pruning; absent keys keep every channel.
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
    weight_bits: dict[str, int] = field(default_factory=dict)
    neuron: dict[str, Any] = field(default_factory=dict)
    active: dict[str, NDArray[np.bool_]] = field(default_factory=dict)

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
        unknown = sorted(set(self.active) - expected_act)
        if unknown:
            raise ValueError(f"active masks must be keyed by activation keys, got unknown {unknown}")
        if self.neuron.get("kind", "if") not in ("if", "integer_membrane"):
            raise ValueError(f"neuron kind must be 'if' or 'integer_membrane', "
                             f"got {self.neuron.get('kind')!r}")
        bad_bits = {k: v for k, v in self.weight_bits.items() if k not in expected or not 2 <= v <= 8}
        if bad_bits or (self.weight_bits and self.precision != "int8"):
            raise ValueError(f"weight_bits must map layer keys of integer weights to 2..8, got {bad_bits}")


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
    for key, mask in weights.active.items():
        arrays[f"{key}.active"] = np.asarray(mask, dtype=bool)
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
        "weight_bits": weights.weight_bits,
        "neuron": weights.neuron,
        "active": list(weights.active),
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
        weight_bits={key: int(v) for key, v in (config.get("weight_bits") or {}).items()},
        neuron=dict(config.get("neuron") or {}),
        active={key: arrays[f"{key}.active"].astype(bool) for key in config.get("active", [])},
    )


