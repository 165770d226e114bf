"""Conversion to IF neurons: hand-worked spike trains, exactness at T = L, INT8 integer arithmetic.

Tolerances stated here:
- one hidden layer (constant input currents): the SNN at T = L reproduces the
  clip-floor-shift ANN's logits to 1e-5 (float32 rounding only);
- deeper layers: the first neuron layer's spike counts equal the ANN's levels
  exactly; deeper layers only on average (unevenness error), so they are not pinned;
- INT8 layers: the accumulator equals an int64 reference exactly, currents to 1e-6 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec
from sparq_gym.backbones.spiking import (
    IFNeuron,
    LayerWeights,
    SpikingNetwork,
    SpikingSynapse,
    convert,
    load_weights,
    save_weights,
)


def _fc(fin: int, fout: int, name: str, bn: bool = True, **kw: object) -> LayerSpec:
    return LayerSpec("linear", fin, fout, batch_norm=bn, name=name, **kw)  # type: ignore[arg-type]


def _randomize(net: torch.nn.Module, seed: int) -> None:
    """Random weights and BatchNorm statistics, clips around 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.6 if name.endswith("clip")
                    else torch.randn(p.shape, generator=g) * 0.7)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    net.eval()


def test_if_neuron_spike_trains_by_hand() -> None:
    # threshold 1, membrane starts at 0.5, strict ">" comparison, reset by subtraction.
    neuron = IFNeuron(threshold=1.0)
    current = torch.tensor([0.6, 0.3, -0.2, 1.5])
    trains = torch.stack([neuron(current) for _ in range(4)], dim=1)
    # 0.6: U = 1.1 (spike), 0.7, 1.3 (spike), 0.9 -> 1 0 1 0
    # 0.3: U = 0.8, 1.1 (spike), 0.4, 0.7       -> 0 1 0 0
    # -0.2: never; 1.5 (above the clip): every step
    expected = [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
    assert trains.tolist() == expected
    # spike counts = clamp(floor(I*T/lam + 1/2), 0, T): 2, 1, 0, 4
    assert trains.sum(1).tolist() == [2, 1, 0, 4]
    neuron.reset()
    assert neuron(torch.tensor([0.6])).item() == 1.0  # starts again from lam/2


def _one_hidden_spec(conv: bool) -> BackboneSpec:
    if conv:
        layers = (LayerSpec("conv", 2, 3, kernel_size=3, padding=1, name="conv1"),
                  _fc(12, 4, "out", bn=False, pool_before=2, flatten_before=True))
        shape = (2, 4, 4)
    else:
        layers = (_fc(6, 5, "fc1", flatten_before=True), _fc(5, 4, "out", bn=False))
        shape = (1, 2, 3)
    return BackboneSpec(name="tiny", dataset="mnist", input_shape=shape, num_classes=4,
                        layers=layers, exits=())


@pytest.mark.parametrize("conv", [False, True])
def test_one_hidden_layer_is_exact_at_t_equal_levels(conv: bool) -> None:
    spec = _one_hidden_spec(conv)
    ann = build_network(spec)
    _randomize(ann, seed=1)
    x = torch.randn(64, *spec.input_shape, generator=torch.Generator().manual_seed(2)) * 2
    with torch.no_grad():
        expected = ann(x)[-1]
        weights = convert(ann, (0.0,), (1.0,))
        got = SpikingNetwork(weights, timesteps=spec.levels)(x)[-1]
    assert torch.allclose(got, expected, atol=1e-5)


def _exit_spec() -> BackboneSpec:
    return BackboneSpec(
        name="tiny", dataset="mnist", input_shape=(1, 4, 4), num_classes=3,
        layers=(_fc(16, 8, "fc1", flatten_before=True), _fc(8, 6, "fc2"), _fc(6, 3, "fc3", bn=False)),
        exits=(ExitSpec(0, (_fc(8, 4, "h1"), _fc(4, 3, "h1o", bn=False)), name="exit1"),
               ExitSpec(1, (_fc(6, 4, "h2"), _fc(4, 3, "h2o", bn=False)), name="exit2")),
    )


def test_first_layer_spike_counts_equal_ann_levels() -> None:
    spec = _exit_spec()
    ann = build_network(spec)
    _randomize(ann, seed=3)
    x = torch.randn(32, 1, 4, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        level = ann.activations[0](ann.blocks[0](x)) / ann.activations[0].clip * spec.levels
        snn = SpikingNetwork(convert(ann, (0.0,), (1.0,)), timesteps=spec.levels)
        counts = torch.zeros_like(level)
        snn.reset()
        for _ in range(spec.levels):
            counts += snn.activations[0](snn.blocks[0](x))
    assert torch.equal(counts, torch.round(level))
    outputs = snn(x)
    assert len(outputs) == 3 and all(o.shape == (32, 3) for o in outputs)


def _int8_layer(kind: str, seed: int) -> tuple[LayerSpec, LayerWeights]:
    rng = np.random.default_rng(seed)
    if kind == "conv":
        spec = LayerSpec("conv", 3, 4, kernel_size=3, padding=1, pool_before=2, name="c")
        shape: tuple[int, ...] = (4, 3, 3, 3)
    else:
        spec = LayerSpec("linear", 12, 5, name="l")
        shape = (5, 12)
    weight = rng.integers(-128, 128, size=shape).astype(np.int8)
    scale = rng.uniform(0.001, 0.01, size=shape[0]).astype(np.float32)
    bias = rng.normal(size=shape[0]).astype(np.float32)
    return spec, LayerWeights(weight, bias, scale)


def _conv_int64(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """Reference integer convolution (stride 1) in int64 with numpy."""
    n, _, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, w.shape[0], h + 2 * pad - k + 1, wd + 2 * pad - k + 1), dtype=np.int64)
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, :, dy:dy + out.shape[2], dx:dx + out.shape[3]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx].astype(np.int64))
    return out


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_int8_spike_layer_accumulates_integers(kind: str) -> None:
    spec, lw = _int8_layer(kind, seed=5)
    threshold = 1.7
    layer = SpikingSynapse(spec, lw, in_scale=threshold)
    rng = np.random.default_rng(6)
    shape = (8, 3, 4, 4) if kind == "conv" else (8, 12)
    spikes = (rng.random(shape) < 0.4).astype(np.int64)
    if kind == "conv":
        pooled = spikes.reshape(8, 3, 2, 2, 2, 2).sum(axis=(3, 5))  # 2x2 sum-pool: spike counts 0..4
        acc = _conv_int64(pooled, lw.weight, pad=1)
        view = (1, -1, 1, 1)
    else:
        acc = spikes @ lw.weight.astype(np.int64).T
        view = (1, -1)
    assert torch.equal(layer.int8_weight(), torch.from_numpy(lw.weight))
    got_acc = layer.accumulate(torch.from_numpy(spikes).float())
    assert np.array_equal(got_acc.numpy().astype(np.int64), acc)
    # current = acc * (weight scale * threshold / pool area) + bias
    scale = lw.weight_scale * np.float32(threshold / spec.pool_before**2)
    expected = acc.astype(np.float32) * scale.reshape(view) + lw.bias.reshape(view)
    got = layer(torch.from_numpy(spikes).float()).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_int8_analog_input_is_quantized_to_8_bits() -> None:
    spec = LayerSpec("linear", 4, 2, name="in")
    weight = np.array([[1, -2, 3, 127], [-128, 0, 5, 7]], dtype=np.int8)
    lw = LayerWeights(weight, np.zeros(2, np.float32), np.array([0.5, 0.25], np.float32))
    layer = SpikingSynapse(spec, lw, in_scale=0.1, analog_input=True, input_zero_point=10)
    x = torch.tensor([[0.0, 0.26, -5.0, 30.0]])
    # codes: round(x/0.1) + 10 clamped to [0, 255], minus 10: 0, 3 (2.6 -> 3), -10 (clamped), 245
    assert layer.quantize_input(x).tolist() == [[0.0, 3.0, -10.0, 245.0]]
    acc0 = 1 * 0 - 2 * 3 + 3 * -10 + 127 * 245  # 31079
    acc1 = -128 * 0 + 0 * 3 + 5 * -10 + 7 * 245  # 1665
    assert layer.accumulate(layer.quantize_input(x)).tolist() == [[acc0, acc1]]
    np.testing.assert_allclose(layer(x).numpy(), [[acc0 * 0.5 * 0.1, acc1 * 0.25 * 0.1]], rtol=1e-6)


def test_weights_roundtrip_and_corruption(tmp_path: Path) -> None:
    spec = _exit_spec()
    ann = build_network(spec)
    _randomize(ann, seed=7)
    weights = convert(ann, (0.5,), (0.25,), provenance={"note": "test"})
    config = save_weights(weights, tmp_path, "w")
    back = load_weights(tmp_path, "w")
    assert back.thresholds == pytest.approx(weights.thresholds)
    assert back.mean == (0.5,) and back.provenance == {"note": "test"} and config["precision"] == "fp32"
    for key, layer in weights.layers.items():
        assert np.array_equal(back.layers[key].weight, layer.weight)
    archive = tmp_path / "w.npz"
    archive.write_bytes(archive.read_bytes()[:-10])
    with pytest.raises(ValueError, match="sha256"):
        load_weights(tmp_path, "w")


def test_bias_calibration_is_a_no_op_when_conversion_is_exact() -> None:
    from sparq_gym.backbones.spiking import calibrate_biases

    spec = _one_hidden_spec(conv=False)
    ann = build_network(spec)
    _randomize(ann, seed=8)
    x = torch.randn(64, *spec.input_shape, generator=torch.Generator().manual_seed(9))
    weights = convert(ann, (0.0,), (1.0,))
    calibrated, corrections = calibrate_biases(weights, ann, x, timesteps=spec.levels)
    # one hidden layer at T = L reproduces the ANN exactly, so there is nothing to correct
    assert corrections["activations.0"] < 1e-6
    assert calibrated.provenance["bias_calibration"]["images"] == 64


def test_bias_calibration_moves_layer_means_to_the_ann() -> None:
    from sparq_gym.backbones.layers import ClipFloorShift
    from sparq_gym.backbones.spiking import calibrate_biases
    from sparq_gym.backbones.spiking.calibration import _channel_means

    spec = _exit_spec()
    ann = build_network(spec)
    _randomize(ann, seed=10)
    x = torch.randn(256, 1, 4, 4, generator=torch.Generator().manual_seed(11))
    weights = convert(ann, (0.0,), (1.0,))
    target = _channel_means(ann, x, ClipFloorShift, scale_by_threshold=False)

    def mismatch(w: object) -> float:
        got = _channel_means(SpikingNetwork(w, 4), x, IFNeuron, scale_by_threshold=True)  # type: ignore[arg-type]
        return sum(float((target[k] - got[k] / 4).abs().mean()) for k in target)

    calibrated, _ = calibrate_biases(weights, ann, x, timesteps=4)
    assert mismatch(calibrated) < mismatch(weights)
    for key, layer in weights.layers.items():  # weights untouched, only biases move
        assert np.array_equal(calibrated.layers[key].weight, layer.weight)
    assert not np.array_equal(calibrated.layers["blocks.1"].bias, weights.layers["blocks.1"].bias)
