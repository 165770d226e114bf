"""Tests of sparq_gym.reports.paper: paper-style tables from traces, checked against hand-worked numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sparq_gym.io import atomic_write_json, read_json
from sparq_gym.reports.paper import (
    PAPER,
    ReportConfig,
    ann_compute_energy_uj,
    build_report,
    format_report,
    write_report,
)
from sparq_gym.traces import COUNTER_NAMES, TraceSet

REPO = Path(__file__).resolve().parents[2]
N_CLASSES = 10


def _probs(rows: list[list[tuple[int, float]]]) -> np.ndarray:
    """(N, E, C) softmax with ``conf`` on the predicted class and the rest spread evenly."""
    out = np.zeros((len(rows), len(rows[0]), N_CLASSES), dtype=np.float32)
    for i, row in enumerate(rows):
        for e, (pred, conf) in enumerate(row):
            out[i, e, :] = (1.0 - conf) / (N_CLASSES - 1)
            out[i, e, pred] = conf
    return out.astype(np.float16)


# Four test images. (prediction, max-softmax) at exit1, exit2, final:
# s0: exit1 sure and right               -> Cfg 0.2/0.4: exit1, Cfg 0.6/0.7: exit1
# s1: exit1 0.5 wrong, exit2 0.8 right   -> exit1 (wrong)       , exit2 (right)
# s2: exit1 0.3 right, exit2 0.5         -> exit1 (right)       , final (right)
# s3: exit1 0.15, exit2 0.45 wrong       -> exit2 (wrong)       , final (right)
LABELS = np.array([0, 1, 2, 3], dtype=np.uint8)
PROBS = _probs([
    [(0, 0.95), (0, 0.95), (0, 0.9)],
    [(2, 0.5), (1, 0.8), (1, 0.9)],
    [(2, 0.3), (2, 0.5), (2, 0.9)],
    [(3, 0.15), (4, 0.45), (3, 0.9)],
])
# Cumulative counters per exit (macs, synaptic_ops, spikes, lif_ops, mem_bytes), same for all samples.
QDSNN_EXIT = [[100, 200, 10, 80, 4], [100, 600, 30, 160, 8], [100, 1200, 60, 240, 12]]
QDSNN_FULL = [100, 1000, 50, 200, 10]
SNN_EXIT = [[800, 2000, 100, 640, 40], [800, 4000, 200, 1280, 80], [800, 6000, 300, 1920, 120]]
SNN_FULL = [800, 5000, 250, 1600, 100]
ANN_EXIT = [[300, 0, 0, 0, 1200], [700, 0, 0, 0, 2800], [1100, 0, 0, 0, 4400]]
ANN_FULL = [1000, 0, 0, 0, 4000]


def _traces(network: str, exit_rows: list[list[int]], full: list[int], timesteps: int,
            n: int = 4) -> TraceSet:
    return TraceSet(
        labels=LABELS[:n].copy(),
        probs=PROBS[:n].copy(),
        exit_counts=np.tile(np.array(exit_rows, dtype=np.int64), (n, 1, 1)),
        full_counts=np.tile(np.array(full, dtype=np.int64), (n, 1)),
        sample_ids=np.arange(n, dtype=np.int32),
        meta={"network": network, "timesteps": timesteps, "counters": list(COUNTER_NAMES),
              "backbone": "tiny", "dataset": "toy",
              "class_names": [f"c{c}" for c in range(N_CLASSES)], "description": network},
        split="test",
    )


def _write_backbone(root: Path, name: str = "tiny", wall: dict[str, float] | None = None) -> Path:
    directory = root / name
    _traces("dynamic_ann", ANN_EXIT, ANN_FULL, 1).save(directory / "dynamic_ann")
    _traces("snn", SNN_EXIT, SNN_FULL, 32).save(directory / "snn")
    _traces("qdsnn", QDSNN_EXIT, QDSNN_FULL, 4).save(directory / "qdsnn")
    atomic_write_json(directory / "manifest.json", {
        "backbone": name, "dataset": "toy", "commands": ["hand-made test traces"],
        "wall_seconds": wall or {},
    })
    return directory


@pytest.fixture()
def tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "pretrained"
    _write_backbone(root, wall={"extract:qdsnn:test": 0.4, "extract:snn:test": 0.8})
    return root


def _rows(table: list[dict], key: str) -> dict:
    return next(r for r in table if r["key"] == key)


def test_table1_rows_and_exit_rules(tiny_root: Path) -> None:
    report = build_report(ReportConfig("tiny", root=str(tiny_root), timing="none"))
    t1 = report["table1"]
    assert [r["key"] for r in t1] == ["ann", "dynamic_ann", "snn", "qsnn", "qdsnn_0.2_0.4",
                                      "qdsnn_0.6_0.7"]
    # Cfg 0.6/0.7 takes exits [0, 1, 2, 2]: every prediction right; synaptic ops
    # (200 + 600 + 1200 + 1200) / 4 = 800.
    best = _rows(t1, "qdsnn_0.6_0.7")
    assert best["exit_fractions"] == [0.25, 0.25, 0.5]
    assert best["accuracy"] == pytest.approx(100.0)
    assert best["ops"] == pytest.approx(800.0)
    # Cfg 0.2/0.4 takes exits [0, 0, 0, 1]: s1 and s3 wrong; ops (3 * 200 + 600) / 4 = 300.
    low = _rows(t1, "qdsnn_0.2_0.4")
    assert low["exit_fractions"] == [0.75, 0.25, 0.0]
    assert low["accuracy"] == pytest.approx(50.0)
    assert low["ops"] == pytest.approx(300.0)
    # Plain networks: final heads (all right) priced with full_counts.
    assert _rows(t1, "qsnn")["ops"] == pytest.approx(1000.0)
    assert _rows(t1, "ann")["ops"] == pytest.approx(1000.0)
    assert _rows(t1, "ann")["ops_counter"] == "macs"
    # Dynamic ANN under Cfg 0.6/0.7: (300 + 700 + 1100 + 1100) / 4 = 800 MACs.
    assert _rows(t1, "dynamic_ann")["ops"] == pytest.approx(800.0)
    assert _rows(t1, "qsnn")["paper"] is None  # no published values for "tiny"


def test_exit_cost_by_hand(tiny_root: Path) -> None:
    report = build_report(ReportConfig("tiny", root=str(tiny_root), timing="none"))
    cost = {c["key"]: c["exits"] for c in report["exit_cost"]}
    assert set(cost) == {"qdsnn_0.2_0.4", "qdsnn_0.6_0.7"}
    # Cfg 0.2/0.4: s0, s1, s2 leave at exit1 (right, wrong, right; the final head is right on
    # all three): 1 point of 4 lost = 25; s3 leaves at exit2 (wrong, final right): 25.
    exit1, exit2 = cost["qdsnn_0.2_0.4"]
    assert exit1["share"] == pytest.approx(0.75) and exit2["share"] == pytest.approx(0.25)
    assert exit1["head_accuracy"] == pytest.approx(200 / 3) and exit1["final_accuracy"] == pytest.approx(100)
    assert exit1["mean_confidence"] == pytest.approx((0.95 + 0.5 + 0.3) / 3, abs=1e-3)
    assert exit1["points_lost"] == pytest.approx(25.0) and exit2["points_lost"] == pytest.approx(25.0)
    # the points add up to QSNN (100 %) - QDSNN Cfg 0.2/0.4 (50 %)
    assert exit1["points_lost"] + exit2["points_lost"] == pytest.approx(100.0 - 50.0)
    # Cfg 0.6/0.7 loses nothing: s0 right at exit1, s1 right at exit2
    assert [e["points_lost"] for e in cost["qdsnn_0.6_0.7"]] == pytest.approx([0.0, 0.0])
    text = format_report(report)
    assert "### Where the early exits lose accuracy" in text
    assert "50.00 (QSNN 100.00 − 50.00)" in text


def test_table3_and_table4_by_hand(tiny_root: Path) -> None:
    report = build_report(ReportConfig("tiny", root=str(tiny_root), timing="none"))
    t3 = _rows(report["table3"], "qdsnn_0.6_0.7")
    # LIF ops along the paths: (80 + 160 + 240 + 240) / 4 = 180.
    assert (t3["synaptic_ops"], t3["lif_ops"], t3["macs"]) == pytest.approx((800, 180, 100))
    assert t3["total_ops"] == pytest.approx(980.0)
    assert t3["total_ops_with_macs"] == pytest.approx(1080.0)
    assert _rows(report["table3"], "ann")["total_ops"] == pytest.approx(1000.0)
    # Table 4 (µJ): E_syn = 800 x 0.03 pJ = 24 pJ; E_LIF = 180 / 2 x (0.9 + 0.1) pJ = 90 pJ.
    t4 = _rows(report["table4"], "qdsnn_0.6_0.7")
    assert t4["e_syn_uj"] == pytest.approx(24e-6)
    assert t4["e_lif_uj"] == pytest.approx(90e-6)
    assert t4["e_comp_uj"] == pytest.approx(114e-6)
    # + 100 first-layer MACs x 4.6 pJ = 460 pJ.
    assert t4["e_comp_with_macs_uj"] == pytest.approx(574e-6)
    # ANN: 1000 MACs x 4.6 pJ = 4600 pJ; QSNN: 1000 x 0.03 + 100 x 1.0 = 130 pJ.
    assert report["ann_compute_energy_uj"] == pytest.approx(4.6e-3)
    qsnn = _rows(report["table4"], "qsnn")
    assert qsnn["e_comp_uj"] == pytest.approx(130e-6)
    assert qsnn["reduction"] == pytest.approx(4600.0 / 130.0)
    assert qsnn["reduction_with_macs"] == pytest.approx(4600.0 / 590.0)
    # Table 2 energy (sparq, memory included), QSNN: 130 + 460 + 10 bytes x 80 pJ = 1390 pJ.
    assert _rows(report["table2"], "qsnn")["energy_mj"] == pytest.approx(1390e-9)


def test_recorded_timing_gives_time_and_power(tiny_root: Path) -> None:
    report = build_report(ReportConfig("tiny", root=str(tiny_root), timing="recorded"))
    assert report["timing"]["source"] == "recorded"
    qsnn = _rows(report["table2"], "qsnn")
    # 0.4 s for 4 images = 100 ms each; P = 1390 pJ / 0.1 s.
    assert qsnn["time_ms"] == pytest.approx(100.0)
    assert qsnn["power_w"] == pytest.approx(1390e-12 / 0.1)
    assert _rows(report["table2"], "snn")["time_ms"] == pytest.approx(200.0)
    assert _rows(report["table2"], "qdsnn_0.6_0.7")["time_ms"] == pytest.approx(100.0)


def test_figure2_class_distribution(tiny_root: Path) -> None:
    fig2 = build_report(ReportConfig("tiny", root=str(tiny_root), timing="none"))["figure2"]
    composition = np.asarray(fig2["composition_pct"])  # (E, C)
    # Exits [0, 1, 2, 2] for labels [0, 1, 2, 3].
    assert composition[0, 0] == pytest.approx(100.0)
    assert composition[1, 1] == pytest.approx(100.0)
    assert composition[2, 2] == composition[2, 3] == pytest.approx(50.0)
    class_exit = np.asarray(fig2["class_exit_pct"])  # (C, E)
    assert class_exit[3].tolist() == pytest.approx([0.0, 0.0, 100.0])
    assert fig2["class_names"][0] == "c0"


def test_json_keys_and_files(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sparq_gym.cli import main

    out = tmp_path / "docs"
    code = main(["report", "tiny", "--root", str(tiny_root), "--out", str(out), "--json",
                 "--timing", "none"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("backbone", "split", "table1", "table2", "table3", "table4", "figure1",
                "figure2", "timing", "ann_compute_energy_uj", "variants", "sources"):
        assert key in data, key
    assert data["ann_compute_energy_uj"] == pytest.approx(4.6e-3)
    for name in ("report_tiny.md", "report_tiny_fig1_ops.png", "report_tiny_fig2_exits.png"):
        assert (out / name).stat().st_size > 0
    text = (out / "report_tiny.md").read_text(encoding="utf-8")
    assert "## Table 4" in text and "report_tiny_fig2_exits.png" in text


def test_missing_traces_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no trace folder"):
        build_report(ReportConfig("nothing", root=str(tmp_path), timing="none"))
    with pytest.raises(ValueError, match="timing"):
        ReportConfig("tiny", timing="sometimes")


def test_alexnet_ann_compute_energy() -> None:
    from sparq_gym.backbones.spec import get_spec, network_stats

    macs = network_stats(get_spec("alexnet"))["macs"]
    assert macs == 200_515_584
    # 200,515,584 x 4.6 pJ = 922,371,686.4 pJ (paper Table 4: 922.4 µJ).
    assert round(ann_compute_energy_uj(macs), 2) == 922.37


def test_alexnet_report_key_from_traces(tmp_path: Path) -> None:
    directory = tmp_path / "alexnet" / "dynamic_ann"
    full = [200_515_584, 0, 0, 0, 0]
    exit_rows = [[1_000_000, 0, 0, 0, 0], [50_000_000, 0, 0, 0, 0], [200_600_000, 0, 0, 0, 0]]
    _traces("dynamic_ann", exit_rows, full, 1).save(directory)
    report = build_report(ReportConfig("alexnet", root=str(tmp_path), timing="none"))
    assert round(report["ann_compute_energy_uj"], 2) == 922.37
    assert report["spec_macs"] == report["ann_macs"] == 200_515_584
    assert _rows(report["table1"], "ann")["paper"] == {"accuracy": 89.50, "ops_m": 200.52}
    assert report["table2"] == [] and report["figure2"] is None
    assert "922.37" in format_report(report)


def test_paper_values_are_complete() -> None:
    for backbone in ("mlp", "lenet", "alexnet"):
        assert set(PAPER[backbone]["table1"]) == {"ann", "dynamic_ann", "snn", "qsnn",
                                                  "qdsnn_0.2_0.4", "qdsnn_0.6_0.7"}
        assert set(PAPER[backbone]["table2"]) == {"snn", "qsnn", "qdsnn_0.2_0.4", "qdsnn_0.6_0.7"}
    # Table 4's published LIF energy is Table 3's LIF ops / 2 x 1.0 pJ: 11.53M -> 5.77 µJ.
    assert PAPER["alexnet"]["table3"]["snn"][1] / 2 == pytest.approx(
        PAPER["alexnet"]["table4"]["snn"][1], abs=0.01)


def _pretrained(backbone: str) -> Path:
    root = Path(os.environ.get("SPARQ_PRETRAINED", REPO / "pretrained"))
    if not (root / backbone / "manifest.json").exists():
        pytest.skip(f"no shipped traces under {root / backbone}")
    return root


@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
def test_shipped_table1_matches_pipeline(backbone: str) -> None:
    """The report's Table 1 equals the one the pipeline shipped in the manifest (one row function)."""
    root = _pretrained(backbone)
    report = build_report(ReportConfig(backbone, root=str(root), timing="none"))
    shipped = {r["variant"]: r for r in read_json(root / backbone / "manifest.json")["table1"]["rows"]}
    for row in report["table1"]:
        expected = shipped[row["variant"]]
        assert row["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-3)
        assert row["ops"] == pytest.approx(expected["ops"], rel=1e-9)
        assert row["exit_fractions"] == pytest.approx(expected["exit_fractions"], abs=1e-9)


@pytest.mark.slow
@pytest.mark.data
def test_measured_timing_on_shipped_weights(tmp_path: Path) -> None:
    root = _pretrained("mlp")
    data = Path(os.environ.get("SPARQ_DATA", REPO.parent / "shared" / "data"))
    if not (data / "mnist").is_dir():
        pytest.skip(f"no MNIST under {data}")
    report = build_report(ReportConfig("mlp", root=str(root), timing="measure", timing_images=4,
                                       timing_repeats=1, data_root=str(data)))
    timing = report["timing"]
    assert timing["source"] == "measured"
    # Reaching exit 1 runs fewer layers than the full pass, and T=32 costs more than T=4.
    assert timing["qdsnn_exit_s"][0] < timing["qdsnn_exit_s"][-1]
    assert timing["snn_s"] > timing["qsnn_s"]
    paths = write_report(report, tmp_path)
    assert paths[0].name == "report_mlp.md"


def test_limited_snn_traces_are_compared_on_their_own_images(tiny_traces) -> None:
    from sparq_gym.reports.paper import _snn_subset

    assert _snn_subset({"snn": tiny_traces, "qdsnn": tiny_traces}) is None
    ann = tiny_traces  # final heads: sample 0 says 0 (right), sample 1 says 2 (right)
    wrong = ann.subset([0, 1])
    wrong.probs[1, -1] = wrong.probs[1, -1, ::-1].copy()  # sample 1's final head now wrong
    subset = _snn_subset({"snn": ann.subset([1]), "dynamic_ann": ann, "qdsnn": wrong})
    assert subset == {"n_samples": 1, "dynamic_ann_final_accuracy": 100.0,
                      "qdsnn_final_accuracy": 0.0}
