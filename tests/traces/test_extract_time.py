"""Depth x time extraction: per-timestep counts by hand, v0 derived from the same run, shipped traces.

Counts are exact integers, so every relation below is checked with equality;
probabilities at T are v0's bit for bit (the same run, the same float ops).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_network import SPEC, K

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spiking import IFNeuron, SpikingNetwork, convert
from sparq_gym.io import read_json
from sparq_gym.traces import TraceSet
from sparq_gym.traces.counters import MemoryModel
from sparq_gym.traces.extract import LabelledImages, extract_arrays
from sparq_gym.traces.extract_time import extract_time_arrays, extract_time_traces, save_time_split
from sparq_gym.traces.timeset import TimeTraceSet

REPO = Path(__file__).resolve().parents[2]
T = 4


def _snn() -> SpikingNetwork:
    net = build_network(SPEC, seed=0)
    with torch.no_grad():
        for act in [*net.activations, *(a for h in net.heads for a in h.activations)]:
            act.clip.fill_(0.8)
    return SpikingNetwork(convert(net.eval(), (0.5,), (0.25,)), T)


def _images(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 1, 4, 4), dtype=np.uint8), rng.integers(0, 3, size=n)


def _check_decomposition(time: dict[str, np.ndarray], v0_probs: np.ndarray, v0_exit: np.ndarray,
                         v0_full: np.ndarray) -> None:
    """The relations of the format: v0's traces are the depth x time traces at T."""
    last = time["probs"].shape[2] - 1
    assert time["probs"].dtype == np.float16 and np.array_equal(time["probs"][:, :, last], v0_probs)
    heads = np.cumsum(time["head_counts"][:, :, last], axis=1)
    assert np.array_equal(time["block_counts"][:, :, last] + heads, v0_exit)
    assert np.array_equal(time["full_counts"], v0_full)
    assert np.array_equal(time["block_counts"][:, -1, last], v0_full)  # final head: the plain network
    assert not time["head_counts"][:, -1].any()  # the final head has no layers of its own
    for name in ("block_counts", "head_counts"):
        assert time[name].dtype == np.int64 and (np.diff(time[name], axis=2) >= 0).all()


def test_counts_per_timestep_match_a_hand_count_and_v0() -> None:
    images, _ = _images()
    snn = _snn()
    # independent record: spikes of every neuron layer and every exit's output current, per call
    per_step: dict[str, list[torch.Tensor]] = {}

    def record(name: str):
        def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            per_step.setdefault(name, []).append(output.detach().flatten(1).clone())
        return hook

    outputs = {"blocks.2": 2, "heads.0.blocks.1": 0, "heads.1.blocks.1": 1}
    for name, module in snn.named_modules():
        if isinstance(module, IFNeuron) or name in outputs:
            module.register_forward_hook(record(name))
    memory = MemoryModel(weight_bytes=4, activation_bytes=4)
    time = extract_time_arrays(snn, images, (0.5,), (0.25,), memory=memory, batch_size=16, progress=False)
    assert time["probs"].shape == (10, 3, T, 3) and time["block_counts"].shape == (10, 3, T, 5)
    spikes = {n: np.cumsum([s.sum(1).numpy() for s in v], axis=0).astype(np.int64).T
              for n, v in per_step.items() if n not in outputs}  # (N, T) cumulative
    steps = np.arange(1, T + 1)
    block, head = time["block_counts"], time["head_counts"]
    # the analog first layer costs 16 x 8 MACs per timestep; every neuron 2 LIF ops per timestep
    assert (block[:, :, :, K["macs"]] == 128 * steps).all() and not head[..., K["macs"]].any()
    assert (block[:, 0, :, K["lif_ops"]] == 2 * 8 * steps).all()
    assert (block[:, 1, :, K["lif_ops"]] == 2 * (8 + 6) * steps).all()
    assert (block[:, 2, :, K["lif_ops"]] == 2 * (8 + 6 + 3) * steps).all()
    assert (head[:, :2, :, K["lif_ops"]] == 2 * (4 + 3) * steps).all()
    # synaptic ops = spikes x fan-out (out_features of the receiving layer), up to t
    act0, act1 = spikes["activations.0"], spikes["activations.1"]
    assert np.array_equal(block[:, 0, :, K["synaptic_ops"]], 0 * act0)
    assert np.array_equal(block[:, 1, :, K["synaptic_ops"]], 6 * act0)
    assert np.array_equal(block[:, 2, :, K["synaptic_ops"]], 6 * act0 + 3 * act1)
    assert np.array_equal(head[:, 0, :, K["synaptic_ops"]], 4 * act0 + 3 * spikes["heads.0.activations.0"])
    assert np.array_equal(head[:, 1, :, K["synaptic_ops"]], 4 * act1 + 3 * spikes["heads.1.activations.0"])
    # tap spikes are the block's (emitted once), the head's neurons' spikes the head's
    assert np.array_equal(block[:, 0, :, K["spikes"]], act0)
    assert np.array_equal(head[:, 1, :, K["spikes"]], spikes["heads.1.activations.0"])
    # probabilities: softmax of the mean output current over the first t timesteps
    for name, k in outputs.items():
        mean = np.cumsum([o.numpy() for o in per_step[name]], axis=0) / steps[:, None, None]
        want = torch.softmax(torch.from_numpy(mean.astype(np.float32)), dim=2).numpy()
        np.testing.assert_allclose(time["probs"][:, k].astype(np.float32), want.transpose(1, 0, 2), atol=1e-3)
    probs, exit_counts, full_counts = extract_arrays(snn, images, (0.5,), (0.25,), spiking=True,
                                                      memory=memory, batch_size=3, progress=False)
    _check_decomposition(time, probs, exit_counts, full_counts)


def test_traces_save_and_load_in_the_depth_time_format(tmp_path: Path) -> None:
    images, labels = _images()
    snn = _snn()
    for split in ("train", "test"):
        data = LabelledImages(split, images, labels, np.arange(10) + 7, (0.5,), (0.25,))
        arrays, meta = extract_time_traces(snn, SPEC, data, batch_size=4, progress=False,
                                           meta={"command": "pytest"})
        save_time_split(arrays, meta, tmp_path / "qdsnn_time", split, split_provenance={"limit": None})
    manifest = read_json(tmp_path / "qdsnn_time" / "manifest.json")
    assert manifest["format"] == "depth_time" and manifest["network"] == "qdsnn"
    assert manifest["timesteps"] == T and manifest["command"] == "pytest"
    assert sorted(manifest["splits"]) == ["test", "train"] == sorted(manifest["split_provenance"])
    assert manifest["splits"]["train"]["file"] == "train.npz"
    assert manifest["splits"]["train"]["n_samples"] == 10
    assert len(manifest["accuracy"]["test"]["exit1"]) == T
    back = TimeTraceSet.load(tmp_path / "qdsnn_time", "train")
    for key, value in arrays.items():
        assert np.array_equal(getattr(back, key), value), key
    assert back.sample_ids.tolist() == list(range(7, 17)) and back.labels.dtype == np.uint8


def _shipped(backbone: str) -> Path:
    root = Path(os.environ.get("SPARQ_PRETRAINED", REPO / "pretrained"))
    if not (root / backbone / "qdsnn_time" / "manifest.json").exists():
        pytest.skip(f"no shipped depth x time traces for {backbone}")
    return root / backbone


@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_shipped_time_traces_contain_the_shipped_v0_traces(backbone: str, split: str) -> None:
    root = _shipped(backbone)
    time = TimeTraceSet.load(root / "qdsnn_time", split)
    v0 = TraceSet.load(root / "qdsnn", split)
    assert time.meta["format"] == "depth_time" and time.meta["network"] == "qdsnn"
    assert time.n_timesteps == v0.meta["timesteps"] == 4
    assert np.array_equal(time.labels, v0.labels) and np.array_equal(time.sample_ids, v0.sample_ids)
    _check_decomposition(time.arrays(), v0.probs, v0.exit_counts, v0.full_counts)
    source = time.meta["source"]["sha256"]
    assert source == v0.meta["source"]["sha256"]  # the same INT8 weights


def _data_root() -> Path:
    return Path(os.environ.get("SPARQ_DATA", REPO.parent / "shared" / "data"))


@pytest.mark.data
@pytest.mark.parametrize(("backbone", "n_images"), [("mlp", 256), ("lenet", 256),
                                                     pytest.param("alexnet", 128, marks=pytest.mark.slow)])
def test_shipped_int8_weights_reproduce_shipped_time_traces(backbone: str, n_images: int) -> None:
    from sparq_gym.backbones.spiking import load_weights
    from sparq_gym.data import load_split

    root = _shipped(backbone)
    if not _data_root().is_dir():
        pytest.skip("datasets not available (SPARQ_DATA or ../shared/data)")
    shipped = TimeTraceSet.load(root / "qdsnn_time", "test")
    weights = load_weights(root / "weights", "qsnn_int8")
    ids = shipped.sample_ids[:n_images]
    images = load_split(weights.spec.dataset, "test", _data_root()).images[ids]
    again = extract_time_arrays(SpikingNetwork(weights, shipped.n_timesteps), images, weights.mean,
                                weights.std, memory=MemoryModel(**shipped.meta["memory_model"]),
                                batch_size=64, progress=False, channels_last=weights.spec.channels_last)
    for key, value in again.items():
        assert np.array_equal(value, getattr(shipped, key)[:n_images]), key


@pytest.mark.data
def test_pipeline_builds_time_traces_from_shipped_weights_without_an_ann(tmp_path: Path) -> None:
    from sparq_gym.pipeline import PipelineConfig, limited_selection, run_pipeline

    root = _shipped("mlp")
    if not (_data_root() / "mnist").is_dir():
        pytest.skip("MNIST not available (SPARQ_DATA or ../shared/data)")
    shutil.copytree(root / "weights", tmp_path / "out" / "mlp" / "weights")
    config = PipelineConfig("mlp", work_dir=str(tmp_path / "work"), out_root=str(tmp_path / "out"),
                            data_root=str(_data_root()), networks=("qdsnn_time",), limit=8,
                            progress=False, command="pytest")
    manifest = run_pipeline(config, ("train", "convert", "qat", "extract", "ship"))
    assert not (tmp_path / "work" / "ann").exists()  # nothing trained
    assert "qdsnn_time/test.npz" in manifest["files"]
    assert manifest["networks"] == {"qdsnn_time": "qdsnn_time/"}
    shipped = TimeTraceSet.load(root / "qdsnn_time", "test")
    made = TimeTraceSet.load(tmp_path / "out" / "mlp" / "qdsnn_time", "test")
    take = limited_selection(shipped.n_samples, 8)
    for key, value in made.arrays().items():
        assert np.array_equal(value, shipped.arrays()[key][take]), key
    records = read_json(tmp_path / "work" / "pipeline_state.json")["stages"]
    assert sorted(records) == ["extract:qdsnn_time:test", "extract:qdsnn_time:train"]
