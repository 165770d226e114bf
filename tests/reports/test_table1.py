"""Tests of sparq_gym.reports.table1: the threshold rule and Table 1 rows, by hand and on shipped traces."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sparq_gym.envs.core import confidence_bins
from sparq_gym.io import read_json
from sparq_gym.reports.table1 import (
    PAPER_CONFIGS,
    evaluate_policy,
    mean_total_ops,
    policy_row,
    table1,
    table1_markdown,
    table1_rows,
    table1_summary,
    threshold_exits,
)
from sparq_gym.traces import TraceSet

REPO = Path(__file__).resolve().parents[2]


def test_threshold_exits_by_hand() -> None:
    confidence = np.array([[0.65, 0.9, 1.0], [0.5, 0.75, 1.0], [0.1, 0.2, 0.3], [0.6, 0.1, 0.3]])
    # Cfg 0.6/0.7: 0.65 >= 0.6 -> exit 0; 0.5 < 0.6 but 0.75 >= 0.7 -> 1; none -> final; 0.6 >= 0.6 -> 0
    assert threshold_exits(confidence, (0.6, 0.7)).tolist() == [0, 1, 2, 0]
    assert threshold_exits(confidence, ()).tolist() == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="early exits"):
        threshold_exits(confidence, (0.1, 0.2, 0.3))


def test_rule_on_float16_bin_edges_equals_the_binned_rule() -> None:
    # float16 confidences around the paper's thresholds: 0.599609375 < 0.6 <= 0.60009765625, etc.
    edges = np.array([0.2, 0.4, 0.6, 0.7], dtype=np.float16)
    around = np.concatenate([np.nextafter(edges, np.float16(0)), edges, np.nextafter(edges, np.float16(1)),
                             np.array([0.0, 1.0], dtype=np.float16)])
    grid = np.array(np.meshgrid(around, around)).reshape(2, -1).T.astype(np.float64)
    confidence = np.column_stack([grid, np.ones(len(grid))])
    for cfg in PAPER_CONFIGS:
        raw = threshold_exits(confidence, cfg)
        # the environments' rule: exit at k iff bin floor b / 10 >= theta
        # (agents.references.baselines.threshold_policy)
        floors = confidence_bins(confidence, 10) / 10
        binned = threshold_exits(floors + 1e-9, cfg)
        assert np.array_equal(raw, binned), cfg
    # 0.599609375 stays, 0.60009765625 leaves at exit 1 under Cfg 0.6/0.7
    assert threshold_exits(np.array([[0.599609375, 0.0, 1.0], [0.60009765625, 0.0, 1.0]]),
                           (0.6, 0.7)).tolist() == [2, 0]


def test_policy_rows_on_hand_traces(tiny_traces: TraceSet) -> None:
    traces = tiny_traces  # see tests/conftest.py: confidences 0.5/0.75/1.0 and 0.5/0.875/0.5
    plain = policy_row(traces, "QSNN", None, "synaptic_ops")
    # final heads: sample 0 right (0), sample 1 right (2) -> 100 %; plain network costs 800 each
    assert plain["accuracy"] == 100.0 and plain["ops"] == 800.0 and plain["exit_fractions"] == [0, 0, 1]
    exits = threshold_exits(traces.confidence(), (0.6, 0.7))  # both take exit 2 (0.75, 0.875)
    row = policy_row(traces, "Cfg", exits, "synaptic_ops")
    # exit 2: sample 0 says 1 (wrong), sample 1 says 2 (right) -> 50 %; cost 300 each
    assert row["accuracy"] == 50.0 and row["ops"] == 300.0 and row["exit_fractions"] == [0.0, 1.0, 0.0]
    assert row["total_ops"] == 600.0  # synaptic_ops + lif_ops (the env default cost), 300 each
    rows = table1({"qdsnn": traces})
    assert [r["variant"] for r in rows] == ["QSNN T=4", "QDSNN Cfg 0.2/0.4", "QDSNN Cfg 0.6/0.7"]
    # Cfg 0.2/0.4: both take exit 1 (0.5 >= 0.2): sample 0 right, sample 1 wrong; cost 100
    assert rows[1]["accuracy"] == 50.0 and rows[1]["ops"] == 100.0
    # the QSNN over QDSNN Cfg 0.6/0.7 summary: 300 / 800 synaptic ops
    summary = table1_summary(rows)
    assert summary["qsnn_accuracy"] == 100.0 and summary["qdsnn_0.6/0.7_accuracy"] == 50.0
    assert summary["qdsnn_0.6/0.7_synaptic_ops_over_qsnn"] == pytest.approx(300 / 800)


def test_manifest_rows_round_accuracy_rows_do_not(tiny_traces: TraceSet) -> None:
    three = tiny_traces.subset([0, 1, 1])  # final heads right, right, right; exit 1: right, wrong, wrong
    row = evaluate_policy(three, "k", "exit 1", np.zeros(3, dtype=np.int64), "macs")
    assert row.accuracy == pytest.approx(100 / 3, abs=1e-12) and not row.spiking
    assert row.manifest_row()["accuracy"] == 33.333
    # an ANN's total ops are its MACs; a spiking row's are synaptic + LIF ops
    assert mean_total_ops({"macs": 7.0, "synaptic_ops": 0.0, "lif_ops": 0.0}) == 7.0
    assert mean_total_ops({"macs": 7.0, "synaptic_ops": 2.0, "lif_ops": 3.0}) == 5.0


def test_limited_snn_gets_the_ann_on_the_same_images(tiny_traces: TraceSet) -> None:
    ann = tiny_traces  # final heads: sample 0 right, sample 1 right
    snn = tiny_traces.subset([1])  # the SNN extraction stopped after one image
    rows = table1({"dynamic_ann": ann, "snn": snn})
    assert [r["variant"] for r in rows] == ["ANN", "Dynamic ANN Cfg 0.6/0.7", "SNN T=32",
                                            "ANN on the SNN's images"]
    same = rows[-1]
    assert same["n_samples"] == 1 and same["accuracy"] == 100.0 and same["ops_counter"] == "macs"
    markdown = table1_markdown(rows)
    assert "| SNN T=32 (1 images) |" in markdown and "| ANN (2 images) |" in markdown
    # full-size SNN traces: no extra row, no image counts
    full = table1({"dynamic_ann": ann, "snn": ann})
    assert len(full) == 3 and "images)" not in table1_markdown(full)
    # the report leaves that row out and adds the full pass
    keys = [r.key for r in table1_rows({"dynamic_ann": ann, "snn": snn, "qdsnn": ann},
                                       same_images_row=False, full_pass=True)]
    assert keys == ["ann", "dynamic_ann", "snn", "qsnn", "qdsnn_0.2_0.4", "qdsnn_0.6_0.7", "qdsnn_full"]


@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
def test_shipped_manifest_table1_is_recomputed_exactly(backbone: str) -> None:
    """The Table 1 in pretrained/<backbone>/manifest.json is table1() of the shipped test traces."""
    root = Path(os.environ.get("SPARQ_PRETRAINED", REPO / "pretrained"))
    if not (root / backbone / "manifest.json").exists():
        pytest.skip(f"no shipped traces under {root / backbone}")
    manifest = read_json(root / backbone / "manifest.json")
    traces = {network: TraceSet.load(root / backbone / network, "test")
              for network in ("dynamic_ann", "snn", "qdsnn", "multilevel", "spquant")
              if (root / backbone / network / "manifest.json").exists()}
    config = manifest["pipeline_config"]
    rows = table1(traces, config["qsnn_timesteps"], config["snn_timesteps"])
    assert rows == manifest["table1"]["rows"]
    assert table1_markdown(rows) == manifest["table1"]["markdown"]
    assert table1_summary(rows, config["qsnn_timesteps"]) == manifest["summary"]
