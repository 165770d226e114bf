"""Pipeline: image selection, commands, resumable runs, and the shipped-weights reproduction test.

Reproduction tolerance: the INT8 network's accumulators are exact integers and
every other step is elementwise float32, so re-extraction is expected to be
bit-identical; the test allows probabilities to differ by at most 1e-3 (two
float16 steps near 1) and requires identical predictions and identical counts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pytest

from sparq_gym.cli.pipeline import add_commands
from sparq_gym.pipeline import limited_selection
from sparq_gym.traces import COUNTER_NAMES, TraceSet

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    return Path(os.environ.get("SPARQ_DATA", REPO.parent / "shared" / "data"))


def test_table1_comes_from_the_reports_stage() -> None:
    """The manifest's Table 1 and ``sparq report`` share one implementation (tests/reports/test_table1.py)."""
    import sparq_gym.pipeline as pipeline
    from sparq_gym.reports import table1 as rules

    for name in ("policy_row", "same_images", "table1", "table1_markdown", "threshold_exits"):
        assert getattr(pipeline, name) is getattr(rules, name)


def test_limited_selection_spreads_over_a_sorted_split() -> None:
    labels = np.repeat(np.arange(10), 1000)  # sorted by label, as the offline CIFAR-10 test batch
    take = limited_selection(10_000, 2000)
    assert len(take) == 2000 and len(set(take.tolist())) == 2000
    assert np.all(np.diff(take) > 0)  # ascending
    counts = np.bincount(labels[take], minlength=10)
    assert counts.min() > 150 and counts.max() < 250  # about 200 per class, not 1000 + 1000
    assert np.array_equal(take, limited_selection(10_000, 2000))  # seeded
    assert limited_selection(5, None).tolist() == [0, 1, 2, 3, 4] == limited_selection(5, 9).tolist()
    with pytest.raises(ValueError, match="positive"):
        limited_selection(5, 0)


def test_commands_are_added_under_backbone() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="backbone_command")
    add_commands(sub)
    args = parser.parse_args(["pipeline", "mlp", "--limit", "8", "--networks", "qdsnn,snn"])
    assert args.backbone_action == "pipeline" and args.limit == 8 and args.networks == "qdsnn,snn"
    for action in ("convert", "qat", "extract"):
        assert parser.parse_args([action, "lenet"]).backbone_action == action


_REPRODUCED = [("mlp", 256), ("lenet", 256), ("alexnet", 64),
               pytest.param("alexnet", 256, marks=pytest.mark.slow)]


@pytest.mark.data
@pytest.mark.parametrize("network", ["qdsnn", "multilevel", "spquant"])
@pytest.mark.parametrize(("backbone", "n_images"), _REPRODUCED)
def test_shipped_weights_reproduce_shipped_traces(backbone: str, n_images: int, network: str) -> None:
    """The shipped weights rebuild every spiking network's shipped traces (qdsnn and multilevel from
    ``qsnn_int8``, spquant from ``spquant``), probabilities and every counter."""
    from sparq_gym.backbones.spiking import SpikingNetwork, load_weights
    from sparq_gym.data import load_split
    from sparq_gym.paths import trace_dir
    from sparq_gym.traces.counters import MemoryModel
    from sparq_gym.traces.extract import extract_arrays

    directory = trace_dir(backbone, network)
    weights_dir = directory.parent / "weights"
    stem = "spquant" if network == "spquant" else "qsnn_int8"
    if not (directory / "manifest.json").exists() or not (weights_dir / f"{stem}.json").exists():
        pytest.skip(f"no shipped {network} traces or weights for {backbone}")
    if not _data_root().is_dir():
        pytest.skip("datasets not available (SPARQ_DATA or ../shared/data)")
    shipped = TraceSet.load(directory, "test")
    weights = load_weights(weights_dir, stem)
    assert shipped.meta["source"]["weights"] == stem
    network_ = SpikingNetwork(weights, timesteps=int(shipped.meta["timesteps"]),
                              spike_levels=int(shipped.meta.get("spike_levels", 1)))
    split = load_split(weights.spec.dataset, "test", _data_root())
    n = min(n_images, shipped.n_samples)
    ids = shipped.sample_ids[:n]
    assert np.array_equal(split.labels[ids], shipped.labels[:n])
    probs, exit_counts, full_counts = extract_arrays(
        network_, split.images[ids], weights.mean, weights.std, spiking=True,
        memory=MemoryModel(**shipped.meta["memory_model"]), batch_size=64, progress=False,
        channels_last=weights.spec.channels_last)
    assert np.array_equal(probs.argmax(axis=2), shipped.probs[:n].argmax(axis=2))
    np.testing.assert_allclose(probs.astype(np.float32), shipped.probs[:n].astype(np.float32), atol=1e-3)
    assert np.array_equal(exit_counts, shipped.exit_counts[:n])
    assert np.array_equal(full_counts, shipped.full_counts[:n])
    assert exit_counts.shape[2] == len(COUNTER_NAMES)


@pytest.mark.data
def test_pipeline_runs_and_resumes_on_mnist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from sparq_gym.backbones.model import build_network
    from sparq_gym.backbones.spec import get_spec
    from sparq_gym.backbones.spiking.spquant import SpQuantConfig
    from sparq_gym.data import holdout_indices
    from sparq_gym.io import read_json
    from sparq_gym.pipeline import PipelineConfig, run_pipeline

    if not (_data_root() / "mnist").is_dir():
        pytest.skip("MNIST not available (SPARQ_DATA or ../shared/data)")
    spec = get_spec("mlp")
    ann = tmp_path / "model.pt"
    torch.save({"model": build_network(spec, seed=0).state_dict(), "spec": spec.to_dict(),
                "config": {"holdout_size": 5000, "holdout_seed": 0}}, ann)
    config = PipelineConfig("mlp", work_dir=str(tmp_path / "work"), out_root=str(tmp_path / "out"),
                            ann=str(ann), data_root=str(_data_root()), qat_epochs=1, qat_max_steps=1,
                            snn_timesteps=4, limit=8, progress=False, command="pytest",
                            spquant=SpQuantConfig(train_images=64, stat_images=32, batch_size=32))
    manifest = run_pipeline(config)
    rows = {r["variant"]: r for r in manifest["table1"]["rows"]}
    assert list(rows) == ["ANN", "Dynamic ANN Cfg 0.6/0.7", "SNN T=4", "QSNN T=4",
                          "QDSNN Cfg 0.2/0.4", "QDSNN Cfg 0.6/0.7", "Multi-level SNN T=1",
                          "Multi-level SNN T=1 Cfg 0.6/0.7", "SpQuant-SNN T=4", "SpQuant-SNN T=4 Cfg 0.6/0.7"]
    assert manifest["weights"]["spquant"] == "weights/spquant.npz"
    assert "weights/spquant.npz" in manifest["files"]
    multilevel = TraceSet.load(tmp_path / "out" / "mlp" / "multilevel", "test")
    assert multilevel.meta["timesteps"] == 1 and multilevel.meta["spike_levels"] == spec.levels
    assert rows["ANN"]["ops"] == 574_080  # the plain MLP's MACs (spec §2)
    out = tmp_path / "out" / "mlp"
    train = TraceSet.load(out / "qdsnn", "train")
    # the train split is the hold-out of the training set, in hold-out order
    take = limited_selection(5000, 8)
    assert train.sample_ids.tolist() == holdout_indices(60000, 5000, 0)[take].tolist()
    assert (out / "weights" / "qsnn_int8.npz").exists() and "weights/qsnn_int8.npz" in manifest["files"]
    state = read_json(tmp_path / "work" / "pipeline_state.json")
    capsys.readouterr()
    run_pipeline(config)  # everything is recorded and unchanged: every stage is skipped
    log = capsys.readouterr().out
    for stage in ("convert", "qat", "extract:qdsnn:train", "extract:snn:test", "spquant",
                  "extract:multilevel:train", "extract:spquant:test"):
        assert f"{stage}: up to date, skipped" in log
    again = read_json(tmp_path / "work" / "pipeline_state.json")
    assert again["stages"]["qat"]["finished_at"] == state["stages"]["qat"]["finished_at"]


@pytest.mark.data
@pytest.mark.parametrize("backbone", ["mlp", "lenet", pytest.param("alexnet", marks=pytest.mark.slow)])
def test_shipped_spquant_pruning_is_reproduced_from_its_record(backbone: str) -> None:
    """The membrane-guided pruning recorded in weights/spquant.json comes back from the INT8 weights."""
    from sparq_gym.backbones.spiking import load_weights
    from sparq_gym.backbones.spiking.spquant import SpQuantConfig, SpQuantNetwork, prune_by_membrane
    from sparq_gym.data import load_split
    from sparq_gym.paths import pretrained_root

    folder = pretrained_root() / backbone / "weights"
    if not (folder / "spquant.json").exists():
        pytest.skip(f"no shipped SpQuant weights for {backbone}")
    if not _data_root().is_dir():
        pytest.skip("datasets not available (SPARQ_DATA or ../shared/data)")
    source, shipped = load_weights(folder, "qsnn_int8"), load_weights(folder, "spquant")
    config = SpQuantConfig(**shipped.provenance["spquant"]["config"])
    network = SpQuantNetwork(source, config)
    if config.prune_ramp > 0:  # cut in steps on training batches: the counts, not the ranking, come back
        events = shipped.provenance["spquant"]["pruning_events"]
        assert len(events) == config.prune_events and events[-1]["share_of_target"] == 1.0
        for key, mask in shipped.active.items():
            n = mask.size
            fraction = config.prune_of(network.synapse_of(key).spec.kind)
            assert int(mask.sum()) == n - round(fraction * n) == events[-1]["kept"][key], key
        return
    fit = load_split(source.spec.dataset, "fit", _data_root())
    record = prune_by_membrane(network, fit.images[:config.stat_images])
    assert shipped.active and set(shipped.active) == set(record)
    for key, mask in shipped.active.items():
        assert np.array_equal(network.synapse_of(key).mask.bool().numpy(), mask), key
        assert int(mask.sum()) == record[key]["kept"] == shipped.provenance["spquant"]["pruning"][key]["kept"]
