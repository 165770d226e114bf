"""The depth-time trace format: round trip, validation of shapes, dtypes, checksums and meaning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparq_gym.traces import TraceError, TraceSet
from sparq_gym.traces.timeset import TIME_FORMAT, TimeTraceSet, make_synthetic_time_traces


def _replace(traces: TimeTraceSet, **arrays) -> TimeTraceSet:
    return TimeTraceSet(**{**traces.arrays(), **arrays}, meta=traces.meta, split=traces.split)


def test_round_trip_and_manifest(tmp_path):
    train = make_synthetic_time_traces(40, seed=0, split="train")
    test = make_synthetic_time_traces(30, seed=1, split="test")
    train.save(tmp_path)
    test.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format"] == TIME_FORMAT and manifest["timesteps"] == 4
    assert set(manifest["splits"]) == {"train", "test"} and len(manifest["splits"]["test"]["sha256"]) == 64
    loaded = TimeTraceSet.load(tmp_path, "test")
    for name, array in test.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array)
        assert loaded.arrays()[name].dtype == array.dtype
    assert loaded.n_timesteps == 4 and loaded.n_exits == 3 and loaded.split == "test"
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary file


def test_checksum_and_format_are_checked(tmp_path):
    make_synthetic_time_traces(20, seed=0, split="test").save(tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["splits"]["test"]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match="sha256"):
        TimeTraceSet.load(tmp_path, "test")
    manifest["format"] = "depth"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match="depth_time"):
        TimeTraceSet.load(tmp_path, "test", verify=False)
    with pytest.raises(TraceError, match="no complete entry"):
        manifest["format"] = TIME_FORMAT
        manifest_path.write_text(json.dumps(manifest))
        TimeTraceSet.load(tmp_path, "train")


def test_meaning_is_validated():
    traces = make_synthetic_time_traces(10, seed=0)
    block = traces.block_counts.copy()
    block[0, 0, 2] = block[0, 0, 1] - 1
    with pytest.raises(TraceError, match="non-decreasing"):
        _replace(traces, block_counts=block)
    probs = traces.probs.copy()
    probs[0, 0, 0] = 0
    with pytest.raises(TraceError, match="summing to 1"):
        _replace(traces, probs=probs)
    head = traces.head_counts.copy()
    head[:, -1] = 1
    with pytest.raises(TraceError, match="final head"):
        _replace(traces, head_counts=head)
    with pytest.raises(TraceError, match="full_counts"):
        _replace(traces, full_counts=traces.full_counts + 1)
    with pytest.raises(TraceError, match="dtype"):
        _replace(traces, block_counts=traces.block_counts.astype(np.int32))
    with pytest.raises(TraceError, match="shape"):
        _replace(traces, head_counts=traces.head_counts[:, :, :2])


def test_to_v0_pays_every_passed_head_after_t_timesteps():
    traces = make_synthetic_time_traces(25, seed=2)
    v0 = traces.to_v0()
    assert isinstance(v0, TraceSet) and v0.n_exits == 3
    last = traces.n_timesteps - 1
    for k in range(3):
        expected = traces.block_counts[:, k, last] + traces.head_counts[:, : k + 1, last].sum(axis=1)
        np.testing.assert_array_equal(v0.exit_counts[:, k], expected)
    np.testing.assert_array_equal(v0.probs, traces.probs[:, :, last])
    # Synthetic sample 0: blocks 0.3 / 0.65 / 1 of the plain network, each early head 0.05.
    np.testing.assert_array_equal(v0.exit_counts[0, :, 1], [350_000, 750_000, 1_100_000])
    assert "format" not in v0.meta
