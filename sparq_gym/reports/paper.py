"""Paper-style reports: the SPARQ paper's Tables 1-4 and Figures 1-2, measured on our traces.

One call turns the shipped ``test`` traces of a backbone
(``pretrained/<backbone>/{dynamic_ann,snn,qdsnn}/``) into the paper's tables,
each row beside the value the paper publishes (seed 001: Table 1 for every
backbone, Table 2 for every backbone, Tables 3 and 4 and the Figure 2
percentages for AlexNet only):

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

Variants (all on ``test``, as in ``sparq_gym.pipeline``): ``ANN`` is
the final head of the dynamic ANN priced as the plain network; ``Dynamic ANN``
is the dynamic ANN under Cfg 0.6/0.7; ``SNN T=32`` and ``QSNN T=4`` are the
final heads of the FP32 and INT8 spiking networks priced as plain networks (no
exit heads); ``QDSNN Cfg θ1/θ2`` are the INT8 network's exits chosen by the
paper's threshold rule, taken from :func:`agents.baselines.threshold_policy`
(exit at exit 1 if its max-softmax ≥ θ1, else at exit 2 if ≥ θ2, else final).

Inference time is measured (``timing="measure"``): the shipped INT8 weights
(``pretrained/<backbone>/weights``) are run at T=4 on a batch of test images,
and dequantized to float32 and run at T=32 for the SNN row (the FP32 weights
are not shipped; dense PyTorch kernels cost the same whatever the weight
values). The QDSNN time is the exit-distribution-weighted mean of the time to
reach each exit (backbone up to the exit plus every head on the way). Without
weights or data, ``timing="auto"`` falls back to the wall time the pipeline
recorded for extracting the ``test`` traces (``"recorded"``: every head
evaluated, operation counting included), and to no time at all (``"none"``).

Nothing here writes files except :func:`write_report`, which writes the
Markdown and the two PNGs atomically.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.energy import PICO, get_energy_model
from sparq_gym.io import atomic_path, atomic_write_text, read_json
from sparq_gym.traces import TraceSet

__all__ = [
    "PAPER",
    "TIMING_MODES",
    "ReportConfig",
    "VariantResult",
    "ann_compute_energy_uj",
    "build_report",
    "format_report",
    "measure_inference_times",
    "write_report",
]

TIMING_MODES: tuple[str, ...] = ("auto", "measure", "recorded", "none")
"""How Table 2's inference time is obtained (see the module docstring)."""

SYSTEM_MODEL = "sparq"
"""Energy model of Table 2 (paper Eq. 4-9, memory included)."""

COMPUTE_MODEL = "sparq-compute"
"""Energy model of Table 4 (arithmetic only)."""

PAPER_CONFIGS: tuple[tuple[float, float], ...] = ((0.2, 0.4), (0.6, 0.7))
"""The paper's two QDSNN threshold configurations (Cfg θ1/θ2)."""

DYNAMIC_ANN_CONFIG: tuple[float, float] = (0.6, 0.7)
"""Thresholds of the Dynamic ANN row; the paper does not state them, the pipeline uses these."""

# ---------------------------------------------------------------------------
# The paper's published values (seed 001_dc141cbfcd233630.txt)
# ---------------------------------------------------------------------------
_T1 = ("accuracy", "ops_m")
_T2 = ("accuracy", "time_ms", "power_w", "energy_mj")

PAPER: dict[str, dict[str, Any]] = {
    "mlp": {
        "table1": {
            "ann": (98.02, 41.16), "dynamic_ann": (98.72, 32.22), "snn": (95.00, 65.50),
            "qsnn": (94.50, 50.10), "qdsnn_0.2_0.4": (95.50, 22.30),
            "qdsnn_0.6_0.7": (97.80, 18.70),
        },
        "table2": {
            "snn": (95.00, 539.0, 0.080, 43.10), "qsnn": (94.50, 420.0, 0.005, 2.10),
            "qdsnn_0.2_0.4": (95.50, 105.0, 0.009, 0.95),
            "qdsnn_0.6_0.7": (97.80, 83.0, 0.012, 0.99),
        },
    },
    "lenet": {
        "table1": {
            "ann": (99.59, 0.49), "dynamic_ann": (99.54, 0.42), "snn": (97.76, 45.17),
            "qsnn": (93.09, 40.78), "qdsnn_0.2_0.4": (96.01, 13.77),
            "qdsnn_0.6_0.7": (98.24, 13.92),
        },
        "table2": {
            "snn": (97.76, 552.0, 0.053, 29.26), "qsnn": (93.09, 70.0, 0.001, 0.07),
            "qdsnn_0.2_0.4": (96.01, 159.0, 0.004, 0.58),
            "qdsnn_0.6_0.7": (98.24, 162.0, 0.004, 0.58),
        },
    },
    "alexnet": {
        "table1": {
            "ann": (89.50, 200.52), "dynamic_ann": (86.00, 153.42), "snn": (77.01, 26.06),
            "qsnn": (74.30, 0.46), "qdsnn_0.2_0.4": (64.80, 0.23),
            "qdsnn_0.6_0.7": (78.00, 0.27),
        },
        "table2": {
            "snn": (77.01, 1802.0, 0.493, 888.00), "qsnn": (74.30, 1.7, 1.66, 2.82),
            "qdsnn_0.2_0.4": (64.80, 2.5, 1.06, 2.68),
            "qdsnn_0.6_0.7": (78.00, 2.2, 1.24, 2.68),
        },
        # Table 3 (millions): synaptic ops, LIF ops, total; the QDSNN row is the paper's
        # upper bound (T=32, full pass), printed with "<=".
        "table3": {
            "ann": (200.52, None, 200.52), "snn": (26.06, 11.53, 37.59),
            "qsnn": (0.46, 1.44, 1.90), "qdsnn": (0.27, 7.37, 7.64),
        },
        # Table 4 (µJ): E_syn, E_LIF, E_comp, compute reduction (x); QDSNN as above.
        "table4": {
            "ann": (922.4, None, 922.4, 1.0), "snn": (0.78, 5.77, 6.55, 141.0),
            "qsnn": (0.014, 0.72, 0.73, 1264.0), "qdsnn": (0.008, 3.69, 3.70, 249.0),
        },
        # §3.4: share (%) of the exit-1 samples of QDSNN Cfg 0.6/0.7 that belong to a class.
        "figure2_exit1_share": {
            "automobile": 11.4, "truck": 11.0, "frog": 11.0, "ship": 7.4, "airplane": 8.6,
        },
    },
}
"""Published values of seed 001 by backbone: Table 1 (accuracy %, synaptic ops in millions),
Table 2 (accuracy %, time ms, power W, energy mJ), and for AlexNet Table 3 (M ops), Table 4
(µJ) and the exit-1 class shares of §3.4 (Figure 2)."""

PAPER_SOURCE = "seed 001 (SPARQ), Tables 1-4 and §3.4"


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
    :param n_bins: confidence bins of the threshold policies (thresholds are multiples
        of 1/10, so 10 bins reproduce the raw-confidence rule exactly).
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
        from sparq_gym.paths import pretrained_root

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
def _cfg_key(cfg: Sequence[float]) -> str:
    return "qdsnn_" + "_".join(f"{t:g}" for t in cfg)


def _cfg_label(cfg: Sequence[float]) -> str:
    return "Cfg " + "/".join(f"{t:g}" for t in cfg)


def threshold_exits(traces: TraceSet, thresholds: Sequence[float], n_bins: int) -> NDArray[np.int64]:
    """Exit per sample under the paper's rule "Cfg θ1/θ2" (:func:`agents.baselines.threshold_policy`).

    The rule acts on binned confidences ``b = floor(conf * B)`` like every
    policy of the environments; for thresholds that are multiples of 1/B it is
    the raw rule "first exit with max-softmax ≥ θ". Returns int64 ``(N,)``.
    """
    from agents.baselines import threshold_policy
    from sparq_gym.envs.core import build_exit_tables

    n_early = traces.n_exits - 1
    if len(thresholds) != n_early:
        raise ValueError(
            f"{len(thresholds)} thresholds for the {n_early} early exits of {traces.meta.get('network')}"
        )
    tables = build_exit_tables(traces, alpha=0.3, n_bins=n_bins, cost="total_ops",
                               obs_type="multidiscrete")
    return threshold_policy(list(thresholds), n_bins).choose_exits(tables)


def variant_result(traces: TraceSet, key: str, label: str, exits: NDArray[np.int64] | None,
                   spiking: bool) -> VariantResult:
    """Average accuracy, counters and energies of one exit rule on ``traces``.

    ``exits`` gives the exit per sample; ``None`` means the plain network: the
    final head's prediction priced with ``full_counts`` (no exit heads).
    """
    if exits is not None:
        exits = np.asarray(exits, dtype=np.int64)
    correct, counts, fractions = traces.path_outcome(exits)
    names = traces.counter_names
    meta = traces.meta
    system = get_energy_model(SYSTEM_MODEL).breakdown(counts, names, meta)
    compute = get_energy_model(COMPUTE_MODEL).breakdown(counts, names, meta)
    return VariantResult(
        key=key,
        label=label,
        network=str(meta.get("network", "")),
        spiking=spiking,
        accuracy=100.0 * float(correct.mean()),
        counters={name: float(counts[:, k].mean()) for k, name in enumerate(names)},
        exit_fractions=fractions,
        energy_uj=float(sum(v.mean() for v in system.values())) * 1e6,
        energy_parts_uj={part: float(v.mean()) * 1e6 for part, v in system.items()},
        compute_parts_uj={part: float(v.mean()) * 1e6 for part, v in compute.items()},
        exits=exits,
    )


def exit_accuracy_cost(traces: TraceSet, exits: NDArray[np.int64]) -> list[dict[str, Any]]:
    """Where an exit rule loses accuracy against always taking the final head, per early exit.

    For each early exit k: ``share`` of the samples that leave there, the
    accuracy on them of head k (``head_accuracy``) and of the final head
    (``final_accuracy``), head k's mean confidence on them, and
    ``points_lost = share * (final_accuracy - head_accuracy)``. The points lost
    add up exactly to (accuracy of the final head) - (accuracy of the rule), i.e.
    QSNN - QDSNN for the ``qdsnn`` traces. Accuracies in %; ``None`` where no
    sample leaves at k.
    """
    exits = np.asarray(exits, dtype=np.int64)
    correct = traces.correct()
    confidence = traces.confidence()
    n = max(traces.n_samples, 1)
    rows = []
    for k in range(traces.n_exits - 1):
        leaving = exits == k
        count = int(leaving.sum())
        head = 100.0 * float(correct[leaving, k].mean()) if count else None
        final = 100.0 * float(correct[leaving, -1].mean()) if count else None
        rows.append({
            "exit": k,
            "share": count / n,
            "head_accuracy": head,
            "final_accuracy": final,
            "mean_confidence": float(confidence[leaving, k].mean()) if count else None,
            "points_lost": 100.0 * float(correct[leaving, -1].sum() - correct[leaving, k].sum()) / n,
        })
    return rows


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


def compute_variants(traces: Mapping[str, TraceSet], n_bins: int = 10) -> list[VariantResult]:
    """Every variant row the available traces allow, in the paper's order.

    ``traces`` maps ``"dynamic_ann"``, ``"snn"``, ``"qdsnn"`` to a split; missing
    networks leave their rows out. See the module docstring for the rows.
    """
    rows: list[VariantResult] = []
    if "dynamic_ann" in traces:
        ann = traces["dynamic_ann"]
        rows.append(variant_result(ann, "ann", "ANN", None, spiking=False))
        exits = threshold_exits(ann, DYNAMIC_ANN_CONFIG, n_bins)
        rows.append(variant_result(ann, "dynamic_ann", f"Dynamic ANN {_cfg_label(DYNAMIC_ANN_CONFIG)}",
                                   exits, spiking=False))
    if "snn" in traces:
        snn = traces["snn"]
        t = int(snn.meta.get("timesteps", 32))
        rows.append(variant_result(snn, "snn", f"SNN T={t}", None, spiking=True))
    if "qdsnn" in traces:
        q = traces["qdsnn"]
        t = int(q.meta.get("timesteps", 4))
        rows.append(variant_result(q, "qsnn", f"QSNN T={t}", None, spiking=True))
        for cfg in PAPER_CONFIGS:
            rows.append(variant_result(q, _cfg_key(cfg), f"QDSNN {_cfg_label(cfg)}",
                                       threshold_exits(q, cfg, n_bins), spiking=True))
        full_pass = np.full(q.n_samples, q.n_exits - 1, dtype=np.int64)
        rows.append(variant_result(q, "qdsnn_full", "QDSNN full pass (every head)", full_pass,
                                   spiking=True))
    return rows


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------
def _run_to_exit(network: Any, x: Any, exit_index: int) -> None:
    """Run ``network`` for T steps up to exit ``exit_index`` (every head on the way evaluated)."""
    n_heads = len(network.heads)
    last = network.exit_after[exit_index] if exit_index < n_heads else len(network.blocks) - 1
    network.reset()
    for _ in range(network.timesteps):
        h = x
        head = 0
        for i in range(last + 1):
            h = network.blocks[i](h)
            if i < len(network.activations):
                h = network.activations[i](h)
            if head < n_heads and head <= exit_index and network.exit_after[head] == i:
                network.heads[head](h)
                head += 1
    network.reset()


def _median_seconds(function: Any, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _dequantized(weights: Any) -> Any:
    """FP32 copy of INT8 :class:`SpikingWeights` (``w * scale`` per output channel)."""
    from sparq_gym.backbones.spiking import LayerWeights, SpikingWeights

    layers = {}
    for key, layer in weights.layers.items():
        w = np.asarray(layer.weight, dtype=np.float32)
        scale = np.asarray(layer.weight_scale, dtype=np.float32).reshape(-1, *([1] * (w.ndim - 1)))
        layers[key] = LayerWeights((w * scale).astype(np.float32), layer.bias.astype(np.float32))
    return SpikingWeights(spec=weights.spec, precision="fp32", layers=layers,
                          thresholds=dict(weights.thresholds), mean=weights.mean, std=weights.std,
                          provenance={"dequantized_from": "int8"})


def measure_inference_times(
    weights_dir: str | os.PathLike[str],
    images: NDArray[np.floating[Any]],
    *,
    qsnn_timesteps: int = 4,
    snn_timesteps: int = 32,
    repeats: int = 3,
    threads: int = 1,
) -> dict[str, Any]:
    """Time the shipped spiking networks on ``images`` on this CPU; seconds per image.

    ``images`` are normalized float32 ``(n, *input_shape)``. Loads the INT8
    weights ``weights_dir/qsnn_int8.{npz,json}`` and times, as the median of
    ``repeats`` runs on the whole batch after one warm-up, divided by ``n``:
    the QSNN (INT8, ``qsnn_timesteps``, no heads), each exit of the QDSNN
    (INT8, backbone up to the exit plus every head on the way) and the SNN
    (the same weights dequantized to float32, ``snn_timesteps``, no heads).
    Uses ``threads`` torch threads and restores the previous setting.
    """
    import torch

    from sparq_gym.backbones.spiking import SpikingNetwork, load_weights

    weights = load_weights(weights_dir, "qsnn_int8")
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    n = int(x.shape[0])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            qsnn = SpikingNetwork(weights, qsnn_timesteps).eval()
            snn = SpikingNetwork(_dequantized(weights), snn_timesteps).eval()
            n_exits = len(qsnn.heads) + 1
            qsnn_s = _median_seconds(lambda: qsnn(x, with_exits=False), repeats)
            exit_s = [_median_seconds(lambda k=k: _run_to_exit(qsnn, x, k), repeats)
                      for k in range(n_exits)]
            snn_s = _median_seconds(lambda: snn(x, with_exits=False), repeats)
    finally:
        torch.set_num_threads(previous)
    return {
        "qsnn_s": qsnn_s / n,
        "qdsnn_exit_s": [t / n for t in exit_s],
        "snn_s": snn_s / n,
        "n_images": n,
        "repeats": repeats,
        "threads": threads,
        "torch": torch.__version__,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _timing(config: ReportConfig, backbone_dir: Path, traces: Mapping[str, TraceSet],
            manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Per-image seconds for the SNN, the QSNN and each QDSNN exit, and where they come from."""
    base = {"cpu": _cpu_name(), "machine": platform.machine()}
    mode = config.timing
    if mode == "none":
        return {"source": "none", **base}
    weights_dir = backbone_dir / "weights"
    reasons: list[str] = []
    if mode in ("auto", "measure"):
        try:
            if not (weights_dir / "qsnn_int8.json").exists():
                raise FileNotFoundError(f"{weights_dir / 'qsnn_int8.json'} is missing")
            from sparq_gym.backbones.spiking import load_weights
            from sparq_gym.data import load_split

            weights = load_weights(weights_dir, "qsnn_int8")
            split = load_split(weights.spec.dataset, "test", config.data_root)
            batch = split.images[: config.timing_images].astype(np.float32) / 255.0
            mean = np.asarray(weights.mean, dtype=np.float32).reshape(-1, 1, 1)
            std = np.asarray(weights.std, dtype=np.float32).reshape(-1, 1, 1)
            batch = ((batch - mean) / std).reshape(-1, *weights.spec.input_shape)
            result = measure_inference_times(
                weights_dir, batch,
                qsnn_timesteps=int(traces["qdsnn"].meta.get("timesteps", 4)) if "qdsnn" in traces else 4,
                snn_timesteps=int(traces["snn"].meta.get("timesteps", 32)) if "snn" in traces else 32,
                repeats=config.timing_repeats, threads=config.threads)
            return {"source": "measured", **base, **result,
                    "note": f"median of {config.timing_repeats} runs of a batch of "
                    f"{result['n_images']} test images, {config.threads} torch thread(s), "
                    "divided by the batch size"}
        except (FileNotFoundError, OSError, ValueError, KeyError) as err:
            if mode == "measure":
                raise
            reasons.append(f"not measured: {err}")
    wall = manifest.get("wall_seconds", {})
    recorded: dict[str, Any] = {}
    for network, key in (("snn", "snn_s"), ("qdsnn", "qsnn_s")):
        seconds = wall.get(f"extract:{network}:{config.split}")
        if seconds is not None and network in traces:
            recorded[key] = float(seconds) / traces[network].n_samples
    if recorded:
        per_image = recorded.get("qsnn_s")
        if per_image is not None and "qdsnn" in traces:
            recorded["qdsnn_exit_s"] = [per_image] * traces["qdsnn"].n_exits
        return {"source": "recorded", **base, **recorded, "reasons": reasons,
                "note": "the pipeline's recorded wall time of extracting the test traces, per "
                "image (every head evaluated, operation counting included; the QDSNN rows get "
                "the full-pass time)"}
    if mode == "recorded":
        raise ValueError(f"{backbone_dir / 'manifest.json'}: no recorded extraction times")
    return {"source": "none", **base, "reasons": reasons}


def _row_seconds(row: VariantResult, timing: Mapping[str, Any]) -> float | None:
    if row.key == "snn":
        return timing.get("snn_s")
    if row.key == "qsnn":
        return timing.get("qsnn_s")
    per_exit = timing.get("qdsnn_exit_s")
    if row.key.startswith("qdsnn") and per_exit is not None:
        return float(np.dot(row.exit_fractions, per_exit))
    return None


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------
def _paper_row(backbone: str, table: str, key: str, fields: Sequence[str]) -> dict[str, Any] | None:
    values = PAPER.get(backbone, {}).get(table, {}).get(key)
    if values is None:
        return None
    return dict(zip(fields, values, strict=True))


def _exit_class_distribution(traces: TraceSet, exits: NDArray[np.int64]) -> dict[str, Any]:
    """Class composition of every exit and exit distribution of every class (Figure 2)."""
    n_classes, n_exits = traces.n_classes, traces.n_exits
    counts = np.zeros((n_exits, n_classes))
    np.add.at(counts, (exits, traces.labels.astype(np.int64)), 1.0)
    per_exit = counts.sum(axis=1, keepdims=True)
    per_class = counts.sum(axis=0, keepdims=True)
    names = traces.meta.get("class_names") or [str(c) for c in range(n_classes)]
    return {
        "exit_names": list(traces.exit_names),
        "class_names": [str(c) for c in names],
        "counts": counts.astype(int).tolist(),
        "composition_pct": (100.0 * counts / np.maximum(per_exit, 1.0)).tolist(),
        "class_exit_pct": (100.0 * counts / np.maximum(per_class, 1.0)).T.tolist(),
    }


def _static_stats(backbone: str) -> dict[str, Any] | None:
    try:
        from sparq_gym.backbones.spec import get_spec, network_stats
    except ImportError:  # pragma: no cover - the backbones package ships with the library
        return None
    try:
        return network_stats(get_spec(backbone))
    except ValueError:
        return None


def _data_note(backbone_dir: Path, traces: Mapping[str, TraceSet], split: str) -> str | None:
    """:func:`sparq_gym.data.source_note` of the images the traces were extracted from."""
    from sparq_gym.data import source_note
    from sparq_gym.traces import load_manifest

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
    from sparq_gym.pipeline import same_images

    out: dict[str, Any] = {"n_samples": snn.n_samples}
    for network, t in others.items():
        out[f"{network}_final_accuracy"] = 100.0 * float(same_images(t, snn).correct()[:, -1].mean())
    return out


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
    rows = compute_variants(traces, config.n_bins)
    by_key = {row.key: row for row in rows}
    timing = _timing(config, backbone_dir, traces, manifest)
    backbone = config.backbone.lower()

    table1 = []
    for row in rows:
        if row.key == "qdsnn_full":
            continue
        counter = "synaptic_ops" if row.spiking else "macs"
        table1.append({"key": row.key, "variant": row.label, "accuracy": row.accuracy,
                       "ops": row.counters[counter], "ops_counter": counter,
                       "exit_fractions": row.exit_fractions,
                       "paper": _paper_row(backbone, "table1", row.key, _T1)})
    table2 = []
    for row in rows:
        if not row.spiking or row.key == "qdsnn_full":
            continue
        seconds = _row_seconds(row, timing)
        energy_j = row.energy_uj * 1e-6
        table2.append({
            "key": row.key, "variant": row.label, "accuracy": row.accuracy,
            "time_ms": None if seconds is None else seconds * 1e3,
            "power_w": None if not seconds else energy_j / seconds,
            "energy_mj": energy_j * 1e3,
            "energy_parts_uj": row.energy_parts_uj,
            "paper": _paper_row(backbone, "table2", row.key, _T2),
        })
    paper_key = {"ann": "ann", "snn": "snn", "qsnn": "qsnn", "qdsnn_0.6_0.7": "qdsnn"}
    compute_rows = [r for r in rows if r.key != "dynamic_ann"]
    table3 = []
    for row in compute_rows:
        c = row.counters
        spiking_total = c["synaptic_ops"] + c["lif_ops"]
        table3.append({
            "key": row.key, "variant": row.label, "macs": c["macs"],
            "synaptic_ops": c["synaptic_ops"], "lif_ops": c["lif_ops"], "spikes": c["spikes"],
            "total_ops": spiking_total if row.spiking else c["macs"],
            "total_ops_with_macs": c["macs"] + spiking_total,
            "paper": _paper_row(backbone, "table3", paper_key.get(row.key, ""),
                                ("synaptic_ops_m", "lif_ops_m", "total_ops_m")),
        })
    ann_row = by_key.get("ann")
    ann_uj = ann_row.compute_parts_uj["mac"] if ann_row is not None else None
    table4 = []
    for row in compute_rows:
        p = row.compute_parts_uj
        if row.spiking:
            e_syn, e_mac = p["synaptic"], p["mac"]
        else:
            e_syn, e_mac = p["mac"] + p["synaptic"], 0.0
        e_comp = e_syn + p["lif"]
        e_all = e_comp + e_mac
        table4.append({
            "key": row.key, "variant": row.label, "e_syn_uj": e_syn, "e_lif_uj": p["lif"],
            "e_first_layer_mac_uj": e_mac, "e_comp_uj": e_comp, "e_comp_with_macs_uj": e_all,
            "reduction": None if not ann_uj or e_comp <= 0 else ann_uj / e_comp,
            "reduction_with_macs": None if not ann_uj or e_all <= 0 else ann_uj / e_all,
            "paper": _paper_row(backbone, "table4", paper_key.get(row.key, ""),
                                ("e_syn_uj", "e_lif_uj", "e_comp_uj", "reduction")),
        })
    figure2: dict[str, Any] | None = None
    best = by_key.get("qdsnn_0.6_0.7")
    if best is not None and best.exits is not None:
        figure2 = _exit_class_distribution(traces["qdsnn"], best.exits)
        figure2["variant"] = best.label
        figure2["paper_exit1_share_pct"] = PAPER.get(backbone, {}).get("figure2_exit1_share")
    cfg_keys = {_cfg_key(cfg) for cfg in PAPER_CONFIGS}
    exit_cost = [
        {"key": row.key, "variant": row.label, "accuracy": row.accuracy,
         "exits": exit_accuracy_cost(traces["qdsnn"], row.exits)}
        for row in rows if row.key in cfg_keys and row.exits is not None
    ]
    stats = _static_stats(backbone)
    from sparq_gym.traces import load_manifest

    sources = {
        network: {"dir": str(backbone_dir / network),
                  "sha256": load_manifest(backbone_dir / network)["splits"][config.split]["sha256"],
                  "n_samples": t.n_samples, "timesteps": t.meta.get("timesteps"),
                  "precision": t.meta.get("precision"), "description": t.meta.get("description")}
        for network, t in traces.items()
    }
    return {
        "backbone": config.backbone,
        "snn_subset": _snn_subset(traces),
        "data_note": _data_note(backbone_dir, traces, config.split),
        "dataset": manifest.get("dataset") or next(iter(traces.values())).meta.get("dataset"),
        "split": config.split,
        "n_bins": config.n_bins,
        "energy_models": {"table2": SYSTEM_MODEL, "table4": COMPUTE_MODEL},
        "variants": [row.to_json() for row in rows],
        "table1": table1,
        "table2": table2,
        "table3": table3,
        "table4": table4,
        "figure1": [{"key": r.key, "variant": r.label, "macs": r.counters["macs"],
                     "synaptic_ops": r.counters["synaptic_ops"], "lif_ops": r.counters["lif_ops"]}
                    for r in rows if r.key != "qdsnn_full"],
        "figure2": figure2,
        "exit_cost": exit_cost,
        "timing": timing,
        "ann_macs": None if ann_row is None else ann_row.counters["macs"],
        "spec_macs": None if stats is None else stats["macs"],
        "spec_neurons": None if stats is None else stats["neurons"],
        "ann_compute_energy_uj": ann_uj,
        "sources": sources,
        "commands": manifest.get("commands", []),
        "software": manifest.get("software") or next(iter(traces.values())).meta.get("software"),
        "paper_source": PAPER_SOURCE,
    }


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------
def _num(value: float | None, digits: int = 2, prefix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{prefix}{value:,.{digits}f}"


def _ops(value: float | None) -> str:
    """An operation count in millions, 4 significant digits (0.5741, 0.004432, 200.5)."""
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value / 1e6:.4g}"


def _paper(values: Mapping[str, Any] | None, key: str, digits: int = 2, le: bool = False) -> str:
    if values is None or values.get(key) is None:
        return "–"
    return ("≤" if le else "") + f"{values[key]:,.{digits}f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _format_exit_cost(report: Mapping[str, Any]) -> str:
    """The "where the exits lose accuracy" section under Table 1."""
    qsnn = next((r["accuracy"] for r in report["table1"] if r["key"] == "qsnn"), None)
    out = ["\n### Where the early exits lose accuracy\n\n",
           "Per QDSNN configuration and early exit: the share of images that leave there, the "
           "accuracy on those images of that head and of the final head (what the QSNN answers "
           "for them), the head's mean confidence on them, and the points this costs "
           "(share × difference). The points of a configuration add up to QSNN − QDSNN.\n\n"]
    rows = []
    for cfg in report["exit_cost"]:
        for e in cfg["exits"]:
            rows.append([cfg["variant"], f"exit{e['exit'] + 1}", f"{e['share']:.3f}",
                         _num(e["head_accuracy"]), _num(e["final_accuracy"]),
                         _num(e["mean_confidence"], 3), _num(e["points_lost"])])
        if qsnn is not None:
            total = sum(e["points_lost"] for e in cfg["exits"])
            rows.append([cfg["variant"], "total", "", "", "", "",
                         f"{total:.2f} (QSNN {qsnn:.2f} − {cfg['accuracy']:.2f})"])
    out.append(_md_table(["variant", "exit", "share", "head acc. %", "final head acc. %",
                          "mean confidence", "points lost"], rows))
    return "".join(out)


def format_report(report: Mapping[str, Any], figure_names: Sequence[str] = ()) -> str:
    """Render a :func:`build_report` result as Markdown (tables, notes, figure links)."""
    b = report["backbone"]
    paper_has = PAPER.get(b.lower(), {})
    out: list[str] = [
        f"# SPARQ paper tables for `{b}` ({report.get('dataset') or '?'}), measured\n\n",
        f"Generated by `sparq report {b}` from the `{report['split']}` traces under "
        f"`pretrained/{b}/`; do not edit by hand. Paper values: {report['paper_source']} "
        "(`shared/seeds/001_*.txt`).\n\n",
    ]
    if report.get("data_note"):
        out.append(f"Data: {report['data_note']}.\n\n")
    # Table 1
    out.append("## Table 1: accuracy and synaptic operations\n\n")
    out.append("Ops are MACs for the ANN rows and spike-triggered accumulates (synaptic ops) for "
               "the spiking rows, per test image, in millions, as in the paper's Table 1.\n\n")
    rows = []
    for r in report["table1"]:
        p = r["paper"]
        fractions = " / ".join(f"{f:.3f}" for f in r["exit_fractions"])
        rows.append([r["variant"], _num(r["accuracy"]), _paper(p, "accuracy"), _ops(r["ops"]),
                     r["ops_counter"], _paper(p, "ops_m"), fractions])
    out.append(_md_table(["variant", "acc. %", "paper acc. %", "ops / image (M)", "ops kind",
                          "paper ops (M)", "exit fractions"], rows))
    subset = report.get("snn_subset")
    if subset:
        same = ", ".join(f"the {name.removesuffix('_final_accuracy').replace('_', ' ')} "
                         f"final head {value:.2f} %"
                         for name, value in subset.items() if name.endswith("_final_accuracy"))
        out.append(f"\nThe SNN rows cover {subset['n_samples']:,} images of the split only (the "
                   f"T=32 extraction was limited to a seeded random subset; their ops and energy "
                   f"below are means over those images); on those images: {same}.\n")
    if report.get("exit_cost"):
        out.append(_format_exit_cost(report))
    # Table 2
    timing = report["timing"]
    out.append("\n## Table 2: spiking variants — accuracy, time, power, energy\n\n")
    source = timing.get("source")
    if source == "measured":
        how = (f"**measured on this CPU** ({timing.get('cpu')}, torch {timing.get('torch')}): "
               f"{timing.get('note')}. QDSNN time = the exit fractions times the measured time to "
               "reach each exit. The SNN row runs the shipped INT8 weights dequantized to float32.")
    elif source == "recorded":
        how = (f"**read from the pipeline's record** ({timing.get('cpu')}): {timing.get('note')}.")
    else:
        how = "not available (no weights, data or recorded times)."
    out.append(f"Time per image: {how} Energy per image under the `{SYSTEM_MODEL}` model "
               "(paper Eq. 4-9, memory included: every byte of weights, membrane potentials and "
               "spikes the traces count costs 80 pJ); power P = E / t. The paper does not say "
               "whether its times and energies are per image or per batch; ours are per image.\n\n")
    rows = []
    for r in report["table2"]:
        p = r["paper"]
        parts = r["energy_parts_uj"]
        mem_share = 100.0 * parts.get("memory", 0.0) / max(sum(parts.values()), 1e-30)
        rows.append([r["variant"], _num(r["accuracy"]), _paper(p, "accuracy"),
                     _num(r["time_ms"], 3), _paper(p, "time_ms", 1), _num(r["power_w"], 4),
                     _paper(p, "power_w", 3), _num(r["energy_mj"], 4), _paper(p, "energy_mj"),
                     f"{mem_share:.1f}"])
    out.append(_md_table(["variant", "acc. %", "paper", "time ms", "paper ms", "power W",
                          "paper W", "energy mJ", "paper mJ", "memory % of E"], rows))
    # Table 3
    out.append("\n## Table 3: operation breakdown (per image)\n\n")
    out.append("Total = synaptic ops + LIF ops for spiking rows (the paper's definition), MACs for "
               "the ANN. Our spiking networks are fed the analog image at every timestep (direct "
               "encoding), so their first layer costs MACs; they are listed apart and added in "
               "the last column. LIF ops = neurons evaluated × T × 2 (Eq. 9), our IF neurons "
               "included. The paper reports this table for AlexNet only; its QDSNN row is an "
               "upper bound (T=32, full pass), ours are measured at T=4 with the exits taken, "
               "plus the full pass through every head.\n\n")
    rows = []
    for r in report["table3"]:
        p = r["paper"]
        le = r["key"].startswith("qdsnn")
        rows.append([r["variant"], _ops(r["synaptic_ops"] if r["key"] != "ann" else r["macs"]),
                     _ops(r["lif_ops"]), _ops(r["total_ops"]),
                     _paper(p, "synaptic_ops_m"), _paper(p, "lif_ops_m", le=le),
                     _paper(p, "total_ops_m", le=le), _ops(r["macs"] if r["key"] != "ann" else 0),
                     _ops(r["total_ops_with_macs"])])
    out.append(_md_table(["variant", "synaptic ops (M)", "LIF ops (M)", "total (M)", "paper syn (M)",
                          "paper LIF (M)", "paper total (M)", "first-layer MACs (M)",
                          "total + MACs (M)"], rows))
    # Table 4
    out.append("\n## Table 4: compute energy (arithmetic only, per image)\n\n")
    out.append(f"`{COMPUTE_MODEL}` model: E_MAC = 4.6 pJ (32-bit), E_AC = 0.03 pJ, LIF "
               "(decay + compare) = 1.0 pJ per neuron and step (Horowitz 45 nm, paper ref. [5]). "
               "E_syn is MACs × 4.6 pJ for the ANN and ACs × 0.03 pJ for the spiking rows; "
               "E_comp = E_syn + E_LIF (the paper's definition); reduction = E_ANN / E_comp. The "
               "last two columns add the first layer's MACs (priced at 4.6 pJ by the model, "
               "although the INT8 network's are 8-bit).\n\n")
    rows = []
    for r in report["table4"]:
        p = r["paper"]
        le = r["key"].startswith("qdsnn")
        red = r["reduction"]
        rows.append([r["variant"], _num(r["e_syn_uj"], 4), _num(r["e_lif_uj"], 4),
                     _num(r["e_comp_uj"], 4), "–" if red is None else f"{red:,.1f}×",
                     _paper(p, "e_syn_uj", 3), _paper(p, "e_lif_uj", le=le),
                     _paper(p, "e_comp_uj", le=le),
                     "–" if p is None else ("≥" if le else "") + f"{p['reduction']:,.0f}×",
                     _num(r["e_comp_with_macs_uj"], 4),
                     "–" if r["reduction_with_macs"] is None else f"{r['reduction_with_macs']:,.2f}×"])
    out.append(_md_table(["variant", "E_syn µJ", "E_LIF µJ", "E_comp µJ", "reduction",
                          "paper E_syn", "paper E_LIF", "paper E_comp", "paper red.",
                          "E_comp + MACs µJ", "red. with MACs"], rows))
    ann = report.get("ann_compute_energy_uj")
    out.append(f"\nANN compute energy (`ann_compute_energy_uj`): **{_num(ann, 2)} µJ** "
               f"= {_num(report.get('ann_macs'), 0)} MACs × 4.6 pJ"
               + (f" (backbone spec: {report['spec_macs']:,} MACs)" if report.get("spec_macs")
                  else "") + ".\n")
    if not paper_has.get("table3"):
        out.append("\nThe paper gives Tables 3 and 4 for AlexNet only; its columns are empty here.\n")
    # Figures
    fig2 = report.get("figure2")
    out.append("\n## Figure 1: operations per variant\n\n")
    if figure_names:
        out.append(f"![operations per variant]({figure_names[0]})\n")
    if fig2 is not None:
        out.append(f"\n## Figure 2: class distribution across exits, {fig2['variant']}\n\n")
        if len(figure_names) > 1:
            out.append(f"![class distribution across exits]({figure_names[1]})\n")
        header = ["class", *(f"{e} share %" for e in fig2["exit_names"]),
                  *(f"→ {e} %" for e in fig2["exit_names"])]
        rows = []
        composition = np.asarray(fig2["composition_pct"])  # (E, C)
        class_exit = np.asarray(fig2["class_exit_pct"])  # (C, E)
        for c, name in enumerate(fig2["class_names"]):
            rows.append([name, *(f"{composition[e, c]:.1f}" for e in range(composition.shape[0])),
                         *(f"{class_exit[c, e]:.1f}" for e in range(class_exit.shape[1]))])
        out.append("\n\"share\": the class's share of the samples that leave at that exit (the "
                   "paper's §3.4 numbers, e.g. 11.4 % of AlexNet's exit-1 samples are "
                   "automobiles); \"→\": the fraction of the class's samples that leave there.\n\n")
        out.append(_md_table(header, rows))
        paper_share = fig2.get("paper_exit1_share_pct")
        if paper_share:
            names = fig2["class_names"]
            pairs = []
            for name, value in paper_share.items():
                ours = (f"{composition[0, names.index(name)]:.1f}" if name in names else "–")
                pairs.append([name, f"{value:.1f}", ours])
            out.append("\nPaper §3.4, exit-1 share (%):\n\n")
            out.append(_md_table(["class", "paper", "ours"], pairs))
    # Provenance
    out.append("\n## Provenance\n\n")
    for network, src in report["sources"].items():
        sha = (src.get("sha256") or "")[:16]
        out.append(f"- `{network}`: {src.get('description')}; {src['n_samples']} samples, "
                   f"T={src.get('timesteps')}, {src.get('precision')}, sha256 {sha}…\n")
    for command in report.get("commands", []):
        out.append(f"- pipeline: `{command}`\n")
    software = report.get("software") or {}
    if software:
        out.append("- software: " + ", ".join(f"{k} {v}" for k, v in sorted(software.items()))
                   + "\n")
    return "".join(out)


# ---------------------------------------------------------------------------
# Figures and files
# ---------------------------------------------------------------------------
def _save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def write_figure1(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Bar chart of MACs, synaptic ops and LIF ops per variant (log scale), paper ops as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["figure1"]
    labels = [r["variant"] for r in rows]
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(rows)), 4.2))
    for i, (key, name) in enumerate((("macs", "MACs"), ("synaptic_ops", "synaptic ops (AC)"),
                                     ("lif_ops", "LIF ops"))):
        values = np.array([max(r[key], 0.0) for r in rows])
        ax.bar(x + (i - 1) * width, np.where(values > 0, values, np.nan), width, label=name)
    paper = PAPER.get(str(report["backbone"]).lower(), {}).get("table1", {})
    marks = [paper.get(r["key"], (None, None))[1] for r in rows]
    if any(m is not None for m in marks):
        ax.scatter(x, [np.nan if m is None else m * 1e6 for m in marks], marker="x", color="k",
                   zorder=3, label="paper Table 1 ops")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("operations per image")
    ax.set_title(f"{report['backbone']}: operations per variant ({report['split']})")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    _save_figure(fig, path)
    return path


def write_figure2(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path | None:
    """Class distribution across exits of QDSNN Cfg 0.6/0.7: class share per exit, exits per class."""
    fig2 = report.get("figure2")
    if fig2 is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    composition = np.asarray(fig2["composition_pct"])  # (E, C)
    class_exit = np.asarray(fig2["class_exit_pct"])  # (C, E)
    names = fig2["class_names"]
    exits = fig2["exit_names"]
    n_exits, n_classes = composition.shape
    x = np.arange(n_classes)
    width = 0.8 / n_exits
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.2))
    ax = axes[0]
    for e in range(n_exits):
        ax.bar(x + (e - (n_exits - 1) / 2) * width, composition[e], width, label=exits[e])
    paper = fig2.get("paper_exit1_share_pct") or {}
    marks = [paper.get(name) for name in names]
    if any(m is not None for m in marks):
        ax.scatter(x - (n_exits - 1) / 2 * width, [np.nan if m is None else m for m in marks],
                   marker="x", color="k", zorder=3, label="paper exit 1")
    ax.axhline(100.0 / n_classes, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of the exit's samples (%)")
    ax.set_title("class share at each exit")
    ax.legend(fontsize=7)
    ax = axes[1]
    bottom = np.zeros(n_classes)
    for e in range(n_exits):
        ax.bar(x, class_exit[:, e], 0.7, bottom=bottom, label=exits[e])
        bottom += class_exit[:, e]
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("samples of the class (%)")
    ax.set_title("where each class exits")
    ax.legend(fontsize=7)
    fig.suptitle(f"{report['backbone']}: {fig2['variant']} ({report['split']})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    _save_figure(fig, path)
    return path


def write_report(report: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``report_<backbone>.md`` and its two PNGs into ``out_dir`` (atomic writes).

    Returns the written paths (Markdown first) and records them, relative
    names, under ``report["files"]``.
    """
    out = Path(out_dir)
    stem = f"report_{report['backbone']}"
    fig1 = write_figure1(report, out / f"{stem}_fig1_ops.png")
    fig2 = write_figure2(report, out / f"{stem}_fig2_exits.png")
    figures = [p for p in (fig1, fig2) if p is not None]
    markdown = out / f"{stem}.md"
    atomic_write_text(markdown, format_report(report, [p.name for p in figures]))
    paths = [markdown, *figures]
    report["files"] = [str(p) for p in paths]
    return paths
