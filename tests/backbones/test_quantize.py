"""INT8 QAT: folded fake-quantized layers, export to int8, the QSNN twin of the quantized ANN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.quantize import QATConfig, QuantizedSynapse, export_int8, prepare_qat, run_qat
from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec
from sparq_gym.backbones.spiking import SpikingNetwork
from sparq_gym.backbones.train import TrainData


def _spec(with_exit: bool) -> BackboneSpec:
    layers = (LayerSpec("linear", 16, 8, flatten_before=True, name="fc1"),
              LayerSpec("linear", 8, 3, batch_norm=False, name="out"))
    exits = ((ExitSpec(0, (LayerSpec("linear", 8, 4, name="h"),
                           LayerSpec("linear", 4, 3, batch_norm=False, name="ho")), name="exit1"),)
             if with_exit else ())
    return BackboneSpec(name="tiny", dataset="mnist", input_shape=(1, 4, 4), num_classes=3,
                        layers=layers, exits=exits, batch_size=16)


def _observe(qat: torch.nn.Module, x: torch.Tensor) -> None:
    """One pass to let the observers see weights and input, then freeze them."""
    with torch.no_grad():
        qat(x)
    for m in qat.modules():
        if hasattr(m, "disable_observer"):
            m.disable_observer()


def test_prepare_qat_folds_batch_norm_and_keeps_original() -> None:
    spec = _spec(with_exit=True)
    ann = build_network(spec, seed=0)
    with torch.no_grad():
        ann.blocks[0].norm.running_mean.fill_(0.5)
        ann.blocks[0].norm.running_var.fill_(4.0)
    ann.eval()
    qat = prepare_qat(ann)
    assert all(isinstance(b, QuantizedSynapse) for b in qat.blocks)
    assert isinstance(qat.heads[0].blocks[0], QuantizedSynapse)
    # BN with gamma 1, beta 0, mean 0.5, var 4 (eps 1e-5): w' = w / sqrt(4 + 1e-5), b' = (b - 0.5) / sqrt(...)
    factor = 1.0 / np.sqrt(4.0 + 1e-5)
    folded = ann.blocks[0].layer.weight.detach() * factor
    np.testing.assert_allclose(qat.blocks[0].layer.weight.detach(), folded, rtol=1e-6)
    np.testing.assert_allclose(qat.blocks[0].layer.bias.detach(), (0.0 - 0.5) * factor, rtol=1e-6)
    assert isinstance(ann.blocks[0], torch.nn.Module) and not isinstance(ann.blocks[0], QuantizedSynapse)


def test_export_gives_int8_weights_on_the_fake_quant_grid() -> None:
    spec = _spec(with_exit=True)
    ann = build_network(spec, seed=1).eval()
    qat = prepare_qat(ann).eval()
    x = torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    _observe(qat, x)
    weights = export_int8(qat, (0.0,), (1.0,))
    assert weights.precision == "int8" and 0 <= weights.input_zero_point <= 255
    for key, layer in weights.layers.items():
        assert layer.weight.dtype == np.int8 and (layer.weight_scale > 0).all()
        block = dict(qat.named_modules())[key]
        fq = block.weight_fake_quant(block.layer.weight).detach().numpy()
        view = (-1, 1)
        np.testing.assert_allclose(layer.weight.astype(np.float32) * layer.weight_scale.reshape(view), fq,
                                   rtol=1e-6, atol=1e-8)
        # symmetric per-channel: the largest |w| of each row maps to 127 or -128
        assert (np.abs(layer.weight.astype(int)).max(axis=1) >= 127).all()


def test_qsnn_reproduces_the_quantized_ann_with_one_hidden_layer() -> None:
    spec = _spec(with_exit=False)
    ann = build_network(spec, seed=2).eval()
    with torch.no_grad():
        ann.activations[0].clip.fill_(1.3)
    qat = prepare_qat(ann).eval()
    x = torch.randn(128, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    _observe(qat, x)
    with torch.no_grad():
        expected = qat(x)[-1]
        got = SpikingNetwork(export_int8(qat, (0.0,), (1.0,)), timesteps=spec.levels)(x)[-1]
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_run_qat_writes_checkpoint_and_resumes(tmp_path: Path) -> None:
    spec = _spec(with_exit=True)
    ann = build_network(spec, seed=3).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 1, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, size=64).astype(np.int64)
    data = TrainData(images, labels, {"holdout": (images[:16], labels[:16])}, (0.5,), (0.25,))
    config = QATConfig(epochs=2, max_steps_per_epoch=2, progress=False)
    _first, log = run_qat(ann, QATConfig(epochs=1, max_steps_per_epoch=2, progress=False), data,
                         tmp_path / "a", resume=False)
    assert (tmp_path / "a" / "qat_checkpoint.pt").exists() and len(log["epochs"]) == 1
    full, full_log = run_qat(ann, config, data, tmp_path / "b", resume=False)
    assert [r["epoch"] for r in full_log["epochs"]] == [1, 2]
    again, again_log = run_qat(ann, config, data, tmp_path / "b", resume=True)  # nothing left to do
    assert again_log["epochs"] == full_log["epochs"]
    a = export_int8(full, (0.5,), (0.25,))
    b = export_int8(again, (0.5,), (0.25,))
    assert all(np.array_equal(a.layers[k].weight, b.layers[k].weight) for k in a.layers)


def test_qat_checkpoint_of_other_weights_is_not_resumed(tmp_path: Path) -> None:
    spec = _spec(with_exit=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(32, 1, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, size=32).astype(np.int64)
    data = TrainData(images, labels, {"holdout": (images[:8], labels[:8])}, (0.5,), (0.25,))
    config = QATConfig(epochs=1, max_steps_per_epoch=1, progress=False)
    run_qat(build_network(spec, seed=3).eval(), config, data, tmp_path, resume=False)
    with pytest.raises(ValueError, match="other starting weights"):
        run_qat(build_network(spec, seed=4).eval(), config, data, tmp_path, resume=True)
