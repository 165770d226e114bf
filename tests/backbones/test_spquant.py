"""SpQuant-SNN (seed 002) on a tiny network: pruning, fine-tuning with resume, export, counting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_quantize import _observe, _spec

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.quantize import export_int8, prepare_qat
from sparq_gym.backbones.spiking import SpikingNetwork, load_weights, save_weights
from sparq_gym.backbones.spiking.spquant import SpQuantConfig, SpQuantNetwork, finetune, prune_by_membrane
from sparq_gym.traces.counters import MemoryModel, OpCounter


def _int8_weights(seed: int = 0):  # type: ignore[no-untyped-def]
    spec = _spec(with_exit=True)  # fc1 16->8, out 8->3; head after fc1: h 8->4, ho 4->3
    ann = build_network(spec, seed=seed).eval()
    with torch.no_grad():
        for act in ann.modules():
            if hasattr(act, "clip"):
                act.clip.fill_(1.0)
    qat = prepare_qat(ann).eval()
    _observe(qat, torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(seed)))
    return export_int8(qat, (0.5,), (0.25,))


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 1, 4, 4), dtype=np.uint8)
    labels = (images.reshape(n, -1)[:, :3].argmax(1)).astype(np.int64)  # learnable: brightest of 3 pixels
    return images, labels


CONFIG = SpQuantConfig(prune_fraction_linear=0.5, train_images=256, batch_size=32, checkpoint_every=4,
                       stat_images=64, lr=1e-3)


def test_pruning_keeps_the_top_half_of_every_hidden_layer() -> None:
    network = SpQuantNetwork(_int8_weights(), CONFIG)
    images, _ = _images(64, 1)
    record = prune_by_membrane(network, images)
    assert record["activations.0"]["channels"] == 8 and record["activations.0"]["kept"] == 4
    assert record["heads.0.activations.0"]["kept"] == 2  # 4 units, half kept
    assert network.blocks[1].mask.sum() == 3  # the output layer is never pruned


def test_finetune_resumes_and_export_matches_the_trained_network(tmp_path: Path) -> None:
    source = _int8_weights()
    network = SpQuantNetwork(source, CONFIG)
    images, labels = _images(256, 2)
    prune_by_membrane(network, images[:64])
    log = finetune(network, images, labels, tmp_path, progress=False)
    assert log["steps"] == 8 and log["images"] == 256 and (tmp_path / "spquant_checkpoint.pt").exists()
    again = SpQuantNetwork(source, CONFIG)
    prune_by_membrane(again, images[:64])
    resumed = finetune(again, images, labels, tmp_path, progress=False)  # finished: nothing left to do
    assert resumed["steps"] == 8 and resumed["loss_per_tenth"] == log["loss_per_tenth"]
    weights = network.export({"test": True})
    save_weights(weights, tmp_path, "spquant")
    loaded = load_weights(tmp_path, "spquant")
    assert loaded.neuron == {"kind": "integer_membrane", "membrane_bits": 5, "steps": 8}
    assert loaded.weight_bits == {"blocks.0": 4, "blocks.1": 4, "heads.0.blocks.0": 4, "heads.0.blocks.1": 4}
    for key, layer in loaded.layers.items():
        assert np.abs(layer.weight.astype(int)).max() <= 7, key
    kept = loaded.active["activations.0"]
    assert kept.sum() == 4 and not loaded.layers["blocks.0"].weight[~kept].any()
    assert not loaded.layers["blocks.1"].weight[:, ~kept].any()  # columns of pruned inputs
    x = torch.from_numpy(images[:128]).float() / 255.0
    x = (x - 0.5) / 0.25
    with torch.no_grad():
        trained = network(x)
        exported = SpikingNetwork(loaded, CONFIG.timesteps)(x)
    for t, e in zip(trained, exported, strict=True):
        assert (t.argmax(1) == e.argmax(1)).float().mean() >= 0.97
        torch.testing.assert_close(e, t, atol=1e-3, rtol=1e-3)


def test_counters_see_pruning_and_narrow_weights(tmp_path: Path) -> None:
    network = SpQuantNetwork(_int8_weights(), CONFIG)
    images, _ = _images(64, 3)
    prune_by_membrane(network, images)
    weights = network.export({})
    snn = SpikingNetwork(weights, timesteps=1)
    x = torch.zeros(2, 1, 4, 4)
    memory = MemoryModel(weight_bytes=1, activation_bytes=1, membrane_bytes=1, spike_bytes=1)
    with OpCounter(snn, spiking=True, memory=memory) as counter:
        snn(x)
    # fc1 keeps 4 of 8 outputs: 4 x 16 weights + 4 biases; MACs 16 x 4; 4 neurons -> 8 LIF ops
    assert snn.blocks[0].stored_weights == 4 * 16 + 4 and snn.blocks[0].active_outputs == 4
    parts = counter.part_counts()
    assert parts[0, 0, 0] == 16 * 4  # macs of the backbone segment up to the exit
    assert parts[0, 0, 3] == 2 * 4  # lif_ops of fc1's 4 kept neurons, one timestep
    # out: 3 rows x 4 kept columns + 3 biases at 4 bits; its 3 output units' lif ops
    assert snn.blocks[1].stored_weights == 3 * 4 + 3 and snn.blocks[1].weight_bits == 4
    assert parts[0, 1, 3] == 2 * 3
    # its memory: 15 weights x 4 bits, 3 membranes read and written x 8 bits, one byte per input spike
    spikes_in = parts[0, 0, 2]  # emitted by fc1's neurons (counted with the segment before the exit)
    assert parts[0, 1, 4] == -(-(15 * 4 + 3 * 2 * 8 + 8 * spikes_in) // 8)


def test_memory_model_counts_fractions_of_a_byte() -> None:
    assert MemoryModel(weight_bytes=0.5).bits("weight") == 4
    with pytest.raises(ValueError, match="multiple of 1/8"):
        MemoryModel(membrane_bytes=0.3)


def test_distillation_loss_by_hand() -> None:
    from sparq_gym.backbones.spiking.spquant import _loss

    student = [torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])]
    teacher = [torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 0.0]])]
    y = torch.tensor([0])
    plain = _loss(student, y, None, SpQuantConfig())
    ce = [np.log(1 + np.exp(-2.0)), np.log(2.0)]  # -log softmax of the right class
    assert float(plain) == pytest.approx(np.mean(ce), rel=1e-6)
    cfg = SpQuantConfig(distill=0.25, distill_temperature=2.0)
    mixed = _loss(student, y, teacher, cfg)
    # exit 0 at tau = 2: student softmax(1, 0), teacher softmax(0, 1); KL(teacher || student) * tau^2
    p = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    q = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum()
    kl0 = float((p * np.log(p / q)).sum()) * 4.0
    expected = (0.75 * ce[0] + 0.25 * kl0 + 0.75 * ce[1] + 0.0) / 2  # exit 1: equal outputs, KL 0
    assert float(mixed) == pytest.approx(expected, rel=1e-6)


GRADUAL = replace(CONFIG, prune_ramp=0.5, prune_events=3, checkpoint_every=2)


def test_gradual_schedule_is_the_cubic_ramp_over_the_first_half() -> None:
    from sparq_gym.backbones.spiking.pruning import GradualPruning

    network = SpQuantNetwork(_int8_weights(), replace(CONFIG, prune_ramp=0.5, prune_events=4))
    schedule = GradualPruning(network, 40).schedule  # ramp of 20 steps in 4 cuts
    assert list(schedule) == [5, 10, 15, 20]
    assert list(schedule.values()) == pytest.approx([1 - 0.75**3, 1 - 0.5**3, 1 - 0.25**3, 1.0])
    gradual = GradualPruning(network, 40)
    for step in range(1, 21):  # the batches' statistics, as a forward pass would add them
        for neuron in network.neurons().values():
            assert neuron.stats is not None, step
            neuron.stats += torch.arange(neuron.stats.numel(), dtype=torch.float32)
        gradual.after_step(step)
    assert all(n.stats is None for n in network.neurons().values())  # nothing recorded after the last cut
    assert network.synapse_of("activations.0").mask.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # the top half


def test_gradual_pruning_cuts_in_steps_to_the_target_and_resumes_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sparq_gym.backbones.spiking.pruning import GradualPruning

    source = _int8_weights()
    images, labels = _images(256, 2)
    whole = SpQuantNetwork(source, GRADUAL)
    log = finetune(whole, images, labels, tmp_path / "whole", progress=False)
    # 8 steps, ramp of 4 in 3 cuts at steps 1, 3, 4: shares 1 - (2/3)^3, 1 - (1/3)^3, 1 of the target
    assert [e["step"] for e in log["pruning_events"]] == [1, 3, 4]
    kept = [e["kept"]["activations.0"] for e in log["pruning_events"]]  # 8 channels, target half
    assert kept == [8 - round(4 * (1 - (2 / 3) ** 3)), 8 - round(4 * (1 - (1 / 3) ** 3)), 4]
    assert log["pruning"]["activations.0"]["kept"] == 4
    assert log["pruning"]["heads.0.activations.0"]["kept"] == 2
    masks = {key: whole.synapse_of(key).mask.clone() for key in whole.neurons()}
    assert all(n.stats is None for n in whole.neurons().values())  # recording stopped

    after_step = GradualPruning.after_step

    def interrupted(self: GradualPruning, step: int) -> None:
        if step == 3:  # resumed from step 2's checkpoint, whose statistics (one batch) the cut needs
            raise KeyboardInterrupt
        after_step(self, step)

    monkeypatch.setattr(GradualPruning, "after_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        finetune(SpQuantNetwork(source, GRADUAL), images, labels, tmp_path / "cut", progress=False)
    monkeypatch.setattr(GradualPruning, "after_step", after_step)
    resumed_network = SpQuantNetwork(source, GRADUAL)
    resumed = finetune(resumed_network, images, labels, tmp_path / "cut", progress=False)
    assert resumed["loss_per_tenth"] == log["loss_per_tenth"]
    assert resumed["pruning_events"] == log["pruning_events"]
    for key, mask in masks.items():
        assert torch.equal(resumed_network.synapse_of(key).mask, mask), key
    for (name, a), b in zip(whole.state_dict().items(), resumed_network.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_config_rejects_a_bad_ramp() -> None:
    with pytest.raises(ValueError, match="prune_ramp"):
        SpQuantConfig(prune_ramp=1.5)
    with pytest.raises(ValueError, match="prune_events"):
        SpQuantConfig(prune_events=0)


def test_exit_weights_average_the_exits_terms_by_hand() -> None:
    from sparq_gym.backbones.spiking.spquant import _loss

    outputs = [torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])]
    y = torch.tensor([0])
    ce = [np.log(1 + np.exp(-2.0)), np.log(2.0)]
    weighted = _loss(outputs, y, None, SpQuantConfig(), (0.3, 1.0))
    assert float(weighted) == pytest.approx((0.3 * ce[0] + 1.0 * ce[1]) / 1.3, rel=1e-6)
    network = SpQuantNetwork(_int8_weights(), replace(CONFIG, exit_weights="backbone"))
    assert network.spec.loss_weights == (0.3, 1.0)  # what finetune passes for "backbone"
    with pytest.raises(ValueError, match="exit_weights"):
        SpQuantConfig(exit_weights="final")


def test_a_checkpoint_without_a_later_setting_resumes_at_its_default(tmp_path: Path) -> None:
    source = _int8_weights()
    images, labels = _images(256, 2)
    prune_by_membrane(network := SpQuantNetwork(source, CONFIG), images[:64])
    log = finetune(network, images, labels, tmp_path, progress=False)
    path = tmp_path / "spquant_checkpoint.pt"
    state = torch.load(path, weights_only=False)
    del state["config"]["exit_weights"]  # as written before the setting existed
    torch.save(state, path)
    again = SpQuantNetwork(source, CONFIG)
    prune_by_membrane(again, images[:64])
    resumed = finetune(again, images, labels, tmp_path, progress=False)
    assert resumed["loss_per_tenth"] == log["loss_per_tenth"]
    assert "exit_weights" not in torch.load(path, weights_only=False)["config"]  # resumed, not retrained
    state["config"]["lr"] = 0.5  # another setting: the run starts over
    torch.save(state, path)
    fresh = SpQuantNetwork(source, CONFIG)
    prune_by_membrane(fresh, images[:64])
    finetune(fresh, images, labels, tmp_path, progress=False)
    assert torch.load(path, weights_only=False)["config"]["lr"] == CONFIG.lr  # trained anew, saved anew
