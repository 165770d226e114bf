"""Paper-style reports: the SPARQ paper's Tables 1-4 and Figures 1-2, measured on our traces.

One call turns the shipped ``test`` traces of a backbone
(``pretrained/<backbone>/{dynamic_ann,snn,qdsnn}/``) into the paper's tables,
each row beside the value the paper publishes (seed 001: Table 1 for every
backbone, Table 2 for every backbone, Tables 3 and 4 and the Figure 2
percentages for AlexNet only; :mod:`sparq_gym.reports.published`):

============ ==========================================================================
table        what it holds
============ ==========================================================================
Table 1      accuracy and synaptic operations per variant (MACs for the ANN rows,
             spike-triggered accumulates for the spiking rows)
Table 2      spiking variants: accuracy, inference time per image measured on this CPU,
             power ``P = E / t`` and energy per image under the ``sparq`` model
             (memory included)
Table 3      synaptic, LIF and total operations (+ the analog first layer's MACs)
Table 4      compute energy under ``sparq-compute``: E_syn, E_LIF, E_comp and the
             reduction against the ANN
Figure 1     operations per variant (bar chart, log scale)
Figure 2     class distribution across the exits of QDSNN Cfg 0.6/0.7
============ ==========================================================================

Variants (all on ``test``): the rows of :func:`sparq_gym.reports.table1.table1_rows`,
the function the pipeline's manifest uses too. ``ANN`` is the final head of the
dynamic ANN priced as the plain network; ``Dynamic ANN`` is the dynamic ANN
under Cfg 0.6/0.7; ``SNN T=32`` and ``QSNN T=4`` are the final heads of the
FP32 and INT8 spiking networks priced as plain networks (no exit heads);
``QDSNN Cfg θ1/θ2`` are the INT8 network's exits chosen by the paper's
threshold rule :func:`sparq_gym.reports.table1.threshold_exits` (exit at exit 1
if its max-softmax ≥ θ1, else at exit 2 if ≥ θ2, else final).

Inference time (:mod:`sparq_gym.reports.timing`) is measured
(``timing="measure"``): the shipped INT8 weights (``pretrained/<backbone>/weights``)
are run at T=4 on a batch of test images, and dequantized to float32 and run
at T=32 for the SNN row. Without weights or data, ``timing="auto"`` falls back
to the wall time the pipeline recorded for extracting the ``test`` traces
(``"recorded"``), and to no time at all (``"none"``).

The Markdown is :func:`sparq_gym.reports.markdown.format_report`, the figures
:mod:`sparq_gym.reports.figures`. Nothing here writes files except
:func:`write_report`, which writes the Markdown and the two PNGs atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.backbones.spec import get_spec, network_stats
from sparq_gym.data import source_note
from sparq_gym.energy import PICO, get_energy_model
from sparq_gym.io import atomic_files, atomic_write_text, read_json
from sparq_gym.paths import pretrained_root
from sparq_gym.reports.exit_analysis import exit_accuracy_cost, exit_class_distribution
from sparq_gym.reports.figures import write_figure1, write_figure2
from sparq_gym.reports.markdown import format_report
from sparq_gym.reports.published import PAPER, PAPER_SOURCE, published_row
from sparq_gym.reports.table1 import (
    FULL_PASS_KEY,
    PAPER_CONFIGS,
    PolicyRow,
    cfg_key,
    evaluate_policy,
    mean_total_ops,
    same_images,
    table1_rows,
)
from sparq_gym.reports.timing import TIMING_MODES, measure_inference_times, report_timing, row_seconds
from sparq_gym.traces import TraceSet, load_manifest

__all__ = [
    "PAPER",
    "TIMING_MODES",
    "ReportConfig",
    "VariantResult",
    "ann_compute_energy_uj",
    "build_report",
    "compute_variants",
    "format_report",
    "measure_inference_times",
    "variant_result",
    "write_report",
]

SYSTEM_MODEL = "sparq"
"""Energy model of Table 2 (paper Eq. 4-9, memory included)."""

COMPUTE_MODEL = "sparq-compute"
"""Energy model of Table 4 (arithmetic only)."""


# ---------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportConfig:
    """What a report is built from.

    :param backbone: backbone name, the folder under the pretrained root (``"mlp"``...).
    :param root: pretrained root holding ``<backbone>/``; ``None`` uses
        :func:`sparq_gym.paths.pretrained_root`.
    :param split: trace split the tables are computed on (the paper reports test).
    :param n_bins: recorded in the report only. The threshold rule acts on the raw
        confidences (:func:`sparq_gym.reports.table1.threshold_exits`); for the paper's
        thresholds, multiples of 1/10, the environments' policies on 10 confidence bins
        take the same exits.
    :param timing: one of :data:`TIMING_MODES`.
    :param timing_images: test images in the timed batch.
    :param timing_repeats: timed repetitions; the median is kept.
    :param threads: torch CPU threads used while timing.
    :param data_root: dataset folder for the timing images (``None``: the default lookup).
    """

    backbone: str
    root: str | None = None
    split: str = "test"
    n_bins: int = 10
    timing: str = "auto"
    timing_images: int = 16
    timing_repeats: int = 3
    threads: int = 1
    data_root: str | None = None

    def __post_init__(self) -> None:
        if self.timing not in TIMING_MODES:
            raise ValueError(f"timing must be one of {list(TIMING_MODES)}, got {self.timing!r}")
        if self.timing_images < 1 or self.timing_repeats < 1 or self.threads < 1:
            raise ValueError("timing_images, timing_repeats and threads must be >= 1")
        if self.n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {self.n_bins}")

    def backbone_dir(self) -> Path:
        """``<root>/<backbone>``, the folder holding the backbone's manifest and traces."""
        if self.root is not None:
            return Path(self.root) / self.backbone
        return pretrained_root() / self.backbone


@dataclass
class VariantResult:
    """One network variant under one exit rule, averaged over the split.

    :param key: stable identifier (``"ann"``, ``"qdsnn_0.6_0.7"``...), the key of :data:`PAPER`.
    :param label: the row's name in the tables (``"QDSNN Cfg 0.6/0.7"``).
    :param network: trace folder it comes from (``"qdsnn"``...).
    :param spiking: whether it is a spiking variant (Table 2 rows).
    :param accuracy: accuracy in %.
    :param counters: mean of every counter over the samples' paths.
    :param exit_fractions: fraction of samples ending at each exit (final last).
    :param energy_uj: mean energy per sample (µJ) under ``sparq`` (memory included).
    :param energy_parts_uj: its parts (``mac``, ``synaptic``, ``lif``, ``memory``).
    :param compute_parts_uj: the parts under ``sparq-compute`` (arithmetic only).
    :param exits: exit index per sample (``None`` for the plain network).
    """

    key: str
    label: str
    network: str
    spiking: bool
    accuracy: float
    counters: dict[str, float]
    exit_fractions: list[float]
    energy_uj: float
    energy_parts_uj: dict[str, float]
    compute_parts_uj: dict[str, float]
    exits: NDArray[np.int64] | None = None

    @property
    def total_ops(self) -> float:
        """Total ops of the mean counters (:func:`sparq_gym.reports.table1.mean_total_ops`)."""
        return mean_total_ops(self.counters)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the row (without the per-sample exits)."""
        data = asdict(self)
        data.pop("exits")
        return data


def ann_compute_energy_uj(macs: float, mac_pj: float | None = None) -> float:
    """Compute energy (µJ) of an ANN of ``macs`` multiply-accumulates under ``sparq-compute``.

    ``macs * E_MAC`` with the paper's 4.6 pJ 32-bit MAC (seed 001 Table 4): AlexNet's
    200,515,584 MACs give 922.37 µJ. ``mac_pj`` overrides the constant.
    """
    model = get_energy_model(COMPUTE_MODEL)
    per_mac = float(mac_pj) if mac_pj is not None else float(model.mac_pj)  # type: ignore[attr-defined]
    return float(macs) * per_mac * PICO * 1e6


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------
def _with_energy(row: PolicyRow) -> VariantResult:
    """A Table-1 row priced under the ``sparq`` and ``sparq-compute`` models (per sample, then means)."""
    assert row.traces is not None and row.path_counts is not None
    names, meta = row.traces.counter_names, row.traces.meta
    system = get_energy_model(SYSTEM_MODEL).breakdown(row.path_counts, names, meta)
    compute = get_energy_model(COMPUTE_MODEL).breakdown(row.path_counts, names, meta)
    return VariantResult(
        key=row.key,
        label=row.label,
        network=str(meta.get("network", "")),
        spiking=row.spiking,
        accuracy=row.accuracy,
        counters=row.counters,
        exit_fractions=row.exit_fractions,
        energy_uj=float(sum(v.mean() for v in system.values())) * 1e6,
        energy_parts_uj={part: float(v.mean()) * 1e6 for part, v in system.items()},
        compute_parts_uj={part: float(v.mean()) * 1e6 for part, v in compute.items()},
        exits=row.exits,
    )


def variant_result(traces: TraceSet, key: str, label: str, exits: NDArray[np.int64] | None,
                   spiking: bool) -> VariantResult:
    """Average accuracy, counters and energies of one exit rule on ``traces``.

    ``exits`` gives the exit per sample; ``None`` means the plain network: the
    final head's prediction priced with ``full_counts`` (no exit heads). The
    row is :func:`sparq_gym.reports.table1.evaluate_policy`'s, priced.
    """
    return _with_energy(evaluate_policy(traces, key, label, exits, "synaptic_ops" if spiking else "macs"))


def compute_variants(traces: Mapping[str, TraceSet]) -> list[VariantResult]:
    """Every variant row the available traces allow, in the paper's order.

    ``traces`` maps ``"dynamic_ann"``, ``"snn"``, ``"qdsnn"`` to a split; missing
    networks leave their rows out. The rows are Table 1's
    (:func:`sparq_gym.reports.table1.table1_rows`) and the QDSNN full pass.
    """
    return [_with_energy(row) for row in table1_rows(traces, same_images_row=False, full_pass=True)]


def _load_traces(backbone_dir: Path, split: str) -> dict[str, TraceSet]:
    found: dict[str, TraceSet] = {}
    for network in ("dynamic_ann", "snn", "qdsnn"):
        directory = backbone_dir / network
        if (directory / "manifest.json").exists():
            found[network] = TraceSet.load(directory, split)
    if not found:
        raise FileNotFoundError(
            f"{backbone_dir}: no trace folder (expected dynamic_ann/, snn/ or qdsnn/ with a "
            "manifest.json; run `sparq backbone pipeline NAME` first)"
        )
    return found


# ---------------------------------------------------------------------------
# The tables
# ---------------------------------------------------------------------------
_PAPER_KEY = {"ann": "ann", "snn": "snn", "qsnn": "qsnn", "qdsnn_0.6_0.7": "qdsnn"}
"""Row key -> key of the paper's Tables 3 and 4 (one QDSNN row, compared with Cfg 0.6/0.7)."""


def _table1(rows: Sequence[VariantResult], backbone: str) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        if row.key == FULL_PASS_KEY:
            continue
        counter = "synaptic_ops" if row.spiking else "macs"
        table.append({"key": row.key, "variant": row.label, "accuracy": row.accuracy,
                      "ops": row.counters[counter], "ops_counter": counter,
                      "exit_fractions": row.exit_fractions,
                      "paper": published_row(backbone, "table1", row.key)})
    return table


def _table2(rows: Sequence[VariantResult], timing: Mapping[str, Any], backbone: str) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        if not row.spiking or row.key == FULL_PASS_KEY:
            continue
        seconds = row_seconds(row.key, row.exit_fractions, timing)
        energy_j = row.energy_uj * 1e-6
        table.append({
            "key": row.key, "variant": row.label, "accuracy": row.accuracy,
            "time_ms": None if seconds is None else seconds * 1e3,
            "power_w": None if not seconds else energy_j / seconds,
            "energy_mj": energy_j * 1e3,
            "energy_parts_uj": row.energy_parts_uj,
            "paper": published_row(backbone, "table2", row.key),
        })
    return table


def _table3(rows: Sequence[VariantResult], backbone: str) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        if row.key == "dynamic_ann":
            continue
        c = row.counters
        table.append({
            "key": row.key, "variant": row.label, "macs": c["macs"],
            "synaptic_ops": c["synaptic_ops"], "lif_ops": c["lif_ops"], "spikes": c["spikes"],
            "total_ops": row.total_ops,
            "total_ops_with_macs": c["macs"] + (c["synaptic_ops"] + c["lif_ops"]),
            "paper": published_row(backbone, "table3", _PAPER_KEY.get(row.key, "")),
        })
    return table


def _table4(rows: Sequence[VariantResult], backbone: str, ann_uj: float | None) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        if row.key == "dynamic_ann":
            continue
        p = row.compute_parts_uj
        if row.spiking:
            e_syn, e_mac = p["synaptic"], p["mac"]
        else:
            e_syn, e_mac = p["mac"] + p["synaptic"], 0.0
        e_comp = e_syn + p["lif"]
        e_all = e_comp + e_mac
        table.append({
            "key": row.key, "variant": row.label, "e_syn_uj": e_syn, "e_lif_uj": p["lif"],
            "e_first_layer_mac_uj": e_mac, "e_comp_uj": e_comp, "e_comp_with_macs_uj": e_all,
            "reduction": None if not ann_uj or e_comp <= 0 else ann_uj / e_comp,
            "reduction_with_macs": None if not ann_uj or e_all <= 0 else ann_uj / e_all,
            "paper": published_row(backbone, "table4", _PAPER_KEY.get(row.key, "")),
        })
    return table


def _figure2(rows: Sequence[VariantResult], traces: Mapping[str, TraceSet],
             backbone: str) -> dict[str, Any] | None:
    """Class distribution across the exits of QDSNN Cfg 0.6/0.7 (None without it)."""
    best = next((row for row in rows if row.key == "qdsnn_0.6_0.7"), None)
    if best is None or best.exits is None:
        return None
    figure2 = exit_class_distribution(traces["qdsnn"], best.exits)
    figure2["variant"] = best.label
    figure2["paper_exit1_share_pct"] = PAPER.get(backbone, {}).get("figure2_exit1_share")
    return figure2


def _exit_cost(rows: Sequence[VariantResult], traces: Mapping[str, TraceSet]) -> list[dict[str, Any]]:
    """:func:`exit_accuracy_cost` of every paper QDSNN configuration."""
    cfg_keys = {cfg_key(cfg) for cfg in PAPER_CONFIGS}
    return [{"key": row.key, "variant": row.label, "accuracy": row.accuracy,
             "exits": exit_accuracy_cost(traces["qdsnn"], row.exits)}
            for row in rows if row.key in cfg_keys and row.exits is not None]


# ---------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------
def _static_stats(backbone: str) -> dict[str, Any] | None:
    try:
        return network_stats(get_spec(backbone))
    except ValueError:
        return None


def _data_note(backbone_dir: Path, traces: Mapping[str, TraceSet], split: str) -> str | None:
    """:func:`sparq_gym.data.source_note` of the images the traces were extracted from."""
    for network in traces:
        provenance = load_manifest(backbone_dir / network).get("split_provenance") or {}
        record = (provenance.get(split) or {}).get("data")
        if record:
            return source_note(record)
    return None


def _snn_subset(traces: Mapping[str, TraceSet]) -> dict[str, Any] | None:
    """When the SNN traces cover fewer images than the others: the other networks on those images."""
    snn = traces.get("snn")
    if snn is None:
        return None
    others = {k: t for k, t in traces.items() if k != "snn" and t.n_samples > snn.n_samples}
    if not others:
        return None
    out: dict[str, Any] = {"n_samples": snn.n_samples}
    for network, t in others.items():
        out[f"{network}_final_accuracy"] = 100.0 * float(same_images(t, snn).correct()[:, -1].mean())
    return out


def _sources(backbone_dir: Path, traces: Mapping[str, TraceSet], split: str) -> dict[str, Any]:
    """Folder, archive sha256, size, T, precision and description of every trace folder read."""
    return {
        network: {"dir": str(backbone_dir / network),
                  "sha256": load_manifest(backbone_dir / network)["splits"][split]["sha256"],
                  "n_samples": t.n_samples, "timesteps": t.meta.get("timesteps"),
                  "precision": t.meta.get("precision"), "description": t.meta.get("description")}
        for network, t in traces.items()
    }


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------
def build_report(config: ReportConfig) -> dict[str, Any]:
    """Compute Tables 1-4 and the Figure data for ``config.backbone``; return a JSON-able dict.

    Reads ``<backbone_dir>/{dynamic_ann,snn,qdsnn}`` (``config.split``) and,
    when present, ``<backbone_dir>/manifest.json`` (provenance and recorded
    times). Keys: ``backbone``, ``split``, ``variants``, ``table1`` ...
    ``table4``, ``figure1``, ``figure2``, ``timing``, ``ann_compute_energy_uj``
    (the ANN row's MACs x 4.6 pJ), ``ann_macs``, ``spec_macs``, ``sources``
    and ``paper_source``. Raises ``FileNotFoundError`` when no trace folder exists.
    """
    backbone_dir = config.backbone_dir()
    traces = _load_traces(backbone_dir, config.split)
    manifest_path = backbone_dir / "manifest.json"
    manifest: dict[str, Any] = read_json(manifest_path) if manifest_path.exists() else {}
    rows = compute_variants(traces)
    timing = report_timing(config.timing, backbone_dir, traces, manifest, split=config.split,
                           data_root=config.data_root, images=config.timing_images,
                           repeats=config.timing_repeats, threads=config.threads)
    backbone = config.backbone.lower()
    ann_row = next((row for row in rows if row.key == "ann"), None)
    ann_uj = ann_row.compute_parts_uj["mac"] if ann_row is not None else None
    stats = _static_stats(backbone)
    return {
        "backbone": config.backbone,
        "snn_subset": _snn_subset(traces),
        "data_note": _data_note(backbone_dir, traces, config.split),
        "dataset": manifest.get("dataset") or next(iter(traces.values())).meta.get("dataset"),
        "split": config.split,
        "n_bins": config.n_bins,
        "energy_models": {"table2": SYSTEM_MODEL, "table4": COMPUTE_MODEL},
        "variants": [row.to_json() for row in rows],
        "table1": _table1(rows, backbone),
        "table2": _table2(rows, timing, backbone),
        "table3": _table3(rows, backbone),
        "table4": _table4(rows, backbone, ann_uj),
        "figure1": [{"key": r.key, "variant": r.label, "macs": r.counters["macs"],
                     "synaptic_ops": r.counters["synaptic_ops"], "lif_ops": r.counters["lif_ops"]}
                    for r in rows if r.key != FULL_PASS_KEY],
        "figure2": _figure2(rows, traces, backbone),
        "exit_cost": _exit_cost(rows, traces),
        "timing": timing,
        "ann_macs": None if ann_row is None else ann_row.counters["macs"],
        "spec_macs": None if stats is None else stats["macs"],
        "spec_neurons": None if stats is None else stats["neurons"],
        "ann_compute_energy_uj": ann_uj,
        "sources": _sources(backbone_dir, traces, config.split),
        "commands": manifest.get("commands", []),
        "software": manifest.get("software") or next(iter(traces.values())).meta.get("software"),
        "paper_source": PAPER_SOURCE,
    }


def write_report(report: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``report_<backbone>.md`` and its two PNGs into ``out_dir`` (atomic writes).

    Returns the written paths (Markdown first) and records them, relative
    names, under ``report["files"]``.
    """
    out = Path(out_dir)
    stem = f"report_{report['backbone']}"
    with atomic_files(out) as staging:  # the Markdown and its figures land together
        fig1 = write_figure1(report, staging / f"{stem}_fig1_ops.png")
        fig2 = write_figure2(report, staging / f"{stem}_fig2_exits.png")
        figures = [out / p.name for p in (fig1, fig2) if p is not None]
        markdown = out / f"{stem}.md"
        atomic_write_text(staging / markdown.name, format_report(report, [p.name for p in figures]))
    paths = [markdown, *figures]
    report["files"] = [str(p) for p in paths]
    return paths
