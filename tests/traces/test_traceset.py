"""TraceSet: round trip, validation and the errors that name the problem."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sparq_gym.io import sha256_file
from sparq_gym.traces import TraceError, TraceSet, make_synthetic_traces


def _save(tmp_path: Path, traces: TraceSet) -> Path:
    traces.save(tmp_path)
    return tmp_path


def test_round_trip_is_exact(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    loaded = TraceSet.load(tmp_path, split="train")
    for name, array in synthetic_traces.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array)
        assert loaded.arrays()[name].dtype == array.dtype
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["splits"]["train"]["sha256"] == sha256_file(tmp_path / "train.npz")
    assert manifest["splits"]["train"]["n_samples"] == 500
    # nothing half-written is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "train.npz"]


def test_files_get_the_umask_mode(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    umask = os.umask(0)
    os.umask(umask)
    for name in ("train.npz", "manifest.json"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o666 & ~umask


def test_second_split_keeps_the_first(tmp_path):
    make_synthetic_traces(50, seed=0, split="train").save(tmp_path)
    make_synthetic_traces(60, seed=1, split="test").save(tmp_path)
    assert TraceSet.load(tmp_path, "train").n_samples == 50
    assert TraceSet.load(tmp_path, "test").n_samples == 60


def test_accuracy_per_exit_matches_hand_count(tiny_traces):
    # sample 0: right, wrong, right; sample 1: wrong, right, right
    assert tiny_traces.accuracy_per_exit() == [0.5, 0.5, 1.0]


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json"):
        TraceSet.load(tmp_path)


def test_missing_archive(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    (tmp_path / "train.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"train\.npz.*missing"):
        TraceSet.load(tmp_path, "train")


def test_unknown_split(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    with pytest.raises(TraceError, match=r"no split 'test'.*\['train'\]"):
        TraceSet.load(tmp_path, "test")


def test_checksum_mismatch(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    other = make_synthetic_traces(500, seed=99, split="train")
    np.savez_compressed(tmp_path / "train.npz", **other.arrays())
    with pytest.raises(TraceError, match="sha256 mismatch"):
        TraceSet.load(tmp_path, "train")


def test_truncated_archive(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    path = tmp_path / "train.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match="truncated or corrupt"):
        TraceSet.load(tmp_path, "train", verify=False)


def test_wrong_shape_is_named(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    arrays = synthetic_traces.arrays()
    arrays["full_counts"] = arrays["full_counts"][:, :3]
    np.savez_compressed(tmp_path / "train.npz", **arrays)
    with pytest.raises(TraceError, match=r"full_counts must have shape \(N=500, K=5\)"):
        TraceSet.load(tmp_path, "train", verify=False)


def test_wrong_dtype_is_named(tiny_traces):
    arrays = tiny_traces.arrays()
    arrays["exit_counts"] = arrays["exit_counts"].astype(np.float32)
    with pytest.raises(TraceError, match="exit_counts has dtype float32"):
        TraceSet(**arrays)


def test_missing_array_is_named(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    arrays = synthetic_traces.arrays()
    del arrays["probs"]
    np.savez_compressed(tmp_path / "train.npz", **arrays)
    with pytest.raises(TraceError, match=r"missing arrays \['probs'\]"):
        TraceSet.load(tmp_path, "train", verify=False)


def test_schema_version_is_checked(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match="schema_version 99 is not supported"):
        TraceSet.load(tmp_path, "train")


def test_archive_is_a_plain_npz(tmp_path, synthetic_traces):
    # no pickles: every member is a .npy array
    _save(tmp_path, synthetic_traces)
    with zipfile.ZipFile(tmp_path / "train.npz") as archive:
        assert sorted(archive.namelist()) == sorted(f"{k}.npy" for k in synthetic_traces.arrays())


def test_label_out_of_range(tiny_traces):
    arrays = tiny_traces.arrays()
    arrays["labels"] = np.array([0, 3], dtype=np.uint8)
    with pytest.raises(TraceError, match=r"labels must lie in \[0, 3\)"):
        TraceSet(**arrays)


def test_synthetic_statistics_match_parameters():
    traces = make_synthetic_traces(20000, exit_accuracy=[0.5, 0.7, 0.9], seed=3)
    np.testing.assert_allclose(traces.accuracy_per_exit(), [0.5, 0.7, 0.9], atol=0.015)
    exit_cost, full_cost = traces.counter("synaptic_ops")
    np.testing.assert_allclose(exit_cost / full_cost[:, None], [[0.3, 0.7, 1.1]] * 20000, atol=1e-6)


def test_path_outcome_by_hand(tiny_traces):
    correct, counts, fractions = tiny_traces.path_outcome([0, 1])
    # sample 0 ends at exit 1 (right), sample 1 at exit 2 (right)
    assert correct.tolist() == [True, True] and fractions == [0.5, 0.5, 0.0]
    assert counts[:, 0].tolist() == [100, 300]
    correct, counts, fractions = tiny_traces.path_outcome(None)
    assert correct.tolist() == [True, True] and fractions == [0.0, 0.0, 1.0]
    assert counts[:, 0].tolist() == [800, 800]
    with pytest.raises(ValueError, match=r"exit indices in \[0, 3\)"):
        tiny_traces.path_outcome([0, 3])


def test_counter_names_must_match_columns(tiny_traces):
    message = r"counters lists 3 names \(\['macs', 'synaptic_ops', 'lif_ops'\]\), the arrays have 5"
    with pytest.raises(TraceError, match=message):
        TraceSet(**tiny_traces.arrays(), meta={"counters": ["macs", "synaptic_ops", "lif_ops"]})


def test_nan_probabilities_are_rejected(tiny_traces):
    arrays = tiny_traces.arrays()
    arrays["probs"] = arrays["probs"].copy()
    arrays["probs"][0, 0, 0] = np.nan
    with pytest.raises(TraceError, match=r"finite probabilities in \[0, 1\]"):
        TraceSet(**arrays)


def test_manifest_entry_without_checksum(tmp_path, synthetic_traces):
    _save(tmp_path, synthetic_traces)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    del manifest["splits"]["train"]["sha256"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match=r"split 'train' lacks \['sha256'\]"):
        TraceSet.load(tmp_path, "train")


def test_json_is_strict(tmp_path):
    from sparq_gym.io import atomic_write_json

    atomic_write_json(tmp_path / "x.json", {"score": float("nan"), "rows": np.array([1.0, np.inf])})
    assert json.loads((tmp_path / "x.json").read_text()) == {"rows": [1.0, None], "score": None}
