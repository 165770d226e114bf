"""Trace extraction on a tiny network and tiny data: loadable traces, hand-computed counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tiny_network import SPEC, K

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spiking import IFNeuron, SpikingNetwork, convert
from sparq_gym.traces import TraceSet
from sparq_gym.traces.extract import LabelledImages, extract_traces, save_split


def _data(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 1, 4, 4), dtype=np.uint8), rng.integers(0, 3, size=n)


def _network() -> torch.nn.Module:
    net = build_network(SPEC, seed=0)
    with torch.no_grad():
        for act in [*net.activations, *(a for h in net.heads for a in h.activations)]:
            act.clip.fill_(0.8)
    return net.eval()


def test_ann_traces_roundtrip_with_hand_counted_macs(tmp_path: Path) -> None:
    images, labels = _data()
    traces = extract_traces(_network(), SPEC, "dynamic_ann",
                            LabelledImages("test", images, labels, np.arange(10) + 100, (0.5,), (0.25,)),
                            batch_size=4, progress=False, meta={"command": "test"})
    save_split(traces, tmp_path / "dynamic_ann")
    back = TraceSet.load(tmp_path / "dynamic_ann", "test")
    assert back.probs.dtype == np.float16 and back.probs.shape == (10, 3, 3)
    np.testing.assert_allclose(back.probs.astype(np.float32).sum(axis=2), 1.0, atol=3e-3)
    assert back.sample_ids.tolist() == list(range(100, 110))
    # exit1: fc1 16*8 + head1 8*4 + 4*3 = 172; exit2: 128 + fc2 8*6 + head1 44 + head2 6*4 + 4*3 = 256
    # final: 128 + 48 + fc3 6*3 + both heads (44 + 36) = 274; plain network: 128 + 48 + 18 = 194
    assert back.exit_counts[:, :, K["macs"]].tolist() == [[172, 256, 274]] * 10
    assert back.full_counts[:, K["macs"]].tolist() == [194] * 10
    assert back.meta["weight_bits"] == 32 and back.meta["command"] == "test"
    assert back.meta["op_means"]["test"]["macs"]["full_mean"] == 194.0


def test_spiking_traces_match_spikes_counted_by_hand(tmp_path: Path) -> None:
    images, labels = _data()
    timesteps = 4
    snn = SpikingNetwork(convert(_network(), (0.5,), (0.25,)), timesteps)
    data = LabelledImages("train", images, labels, np.arange(10), (0.5,), (0.25,))
    traces = extract_traces(snn, SPEC, "qdsnn", data, batch_size=3, progress=False)
    save_split(traces, tmp_path / "qdsnn")
    back = TraceSet.load(tmp_path / "qdsnn", "train")

    # independent count: record every neuron layer's spikes with our own hooks
    emitted: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            emitted[name] = emitted.get(name, 0) + output.flatten(1).sum(1)
        return hook

    for name, module in snn.named_modules():
        if isinstance(module, IFNeuron):
            module.register_forward_hook(record(name))
    x = (torch.from_numpy(images).float() / 255.0 - 0.5) / 0.25
    with torch.no_grad():
        outputs = snn(x)
    s = {k: v.numpy().astype(np.int64) for k, v in emitted.items()}
    # synaptic ops = spikes x fan-out; a linear layer's fan-out is its out_features
    syn_exit1 = s["activations.0"] * 4 + s["heads.0.activations.0"] * 3
    syn_full = s["activations.0"] * 6 + s["activations.1"] * 3
    syn_final = syn_full + syn_exit1 + s["activations.1"] * 4 + s["heads.1.activations.0"] * 3
    assert back.exit_counts[:, 0, K["synaptic_ops"]].tolist() == syn_exit1.tolist()
    assert back.exit_counts[:, 2, K["synaptic_ops"]].tolist() == syn_final.tolist()
    assert back.full_counts[:, K["synaptic_ops"]].tolist() == syn_full.tolist()
    assert back.full_counts[:, K["spikes"]].tolist() == (s["activations.0"] + s["activations.1"]).tolist()
    # LIF ops = 2 x T x neurons on the path: exit1 8 + 4 + 3 = 15 -> 120; plain 8 + 6 + 3 = 17 -> 136
    assert back.exit_counts[:, 0, K["lif_ops"]].tolist() == [120] * 10
    assert back.full_counts[:, K["lif_ops"]].tolist() == [136] * 10
    # the first layer is fed the analog image at every timestep: T x 16 x 8 MACs
    assert back.full_counts[:, K["macs"]].tolist() == [4 * 128] * 10
    probs = torch.softmax(torch.stack(outputs, 1), 2).numpy().astype(np.float16)
    assert np.array_equal(back.probs, probs)
    # FP32 weights under the qdsnn label: the bit widths follow the weights actually used
    assert back.meta["timesteps"] == 4 and back.meta["weight_bits"] == 32


def test_code_hash_follows_the_extraction_sources(tmp_path) -> None:
    import hashlib

    from sparq_gym.traces.extract import code_sha256, extraction_sources

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    want = hashlib.sha256(b"a.py\0x = 1\nb.py\0y = 2\n").hexdigest()
    assert code_sha256(("a.py", "b.py"), root=tmp_path) == want
    (tmp_path / "b.py").write_text("y = 3\n")
    assert code_sha256(("a.py", "b.py"), root=tmp_path) != want
    # the real sources exist where the package is, and the hash is stable
    assert code_sha256() == code_sha256()
    assert "sparq_gym/traces/counters.py" in extraction_sources()
