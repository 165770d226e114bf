"""Table 1 computed once: the paper's threshold rule and the row of every exit policy.

The pipeline's manifest (``pretrained/<backbone>/manifest.json``, written by
:mod:`sparq_gym.pipeline`) and ``sparq report`` (:mod:`sparq_gym.reports.paper`)
both take their rows from :func:`table1_rows`; each row is computed by
:func:`evaluate_policy`, and every threshold configuration goes through
:func:`threshold_exits`.

Rows (on one split, ``test`` in both products), in this order:

- ``ANN``: final head of the dynamic ANN, priced as the plain network (no exit heads);
- ``Dynamic ANN Cfg 0.6/0.7``: the threshold rule on the dynamic ANN;
- ``SNN T=32``: final head of the FP32 SNN, plain network cost;
- ``ANN on the SNN's images``: only when the SNN traces cover fewer images than the
  ANN's (a limited T=32 extraction), the ANN row on the SNN's images;
- ``QSNN T=4``: final head of the INT8 network, plain network cost (what an
  environment gives for a policy that always continues);
- ``QDSNN Cfg 0.2/0.4`` and ``QDSNN Cfg 0.6/0.7``: the threshold rule on the INT8 network;
- ``QDSNN full pass (every head)``: every head evaluated, the final head's answer
  (the report's Tables 3-4 only);
- ``Multi-level SNN T=1`` and ``SpQuant-SNN T=4`` (the related seeds' networks,
  spec §8), each as the plain network and with the threshold rule Cfg 0.6/0.7.

``ops`` is MACs for the ANN rows and synaptic ops (accumulates) for the
spiking rows, as in the paper; every counter's mean is kept too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.traces import TraceSet
from sparq_gym.traces.costs import total_ops

__all__ = [
    "DYNAMIC_ANN_CONFIG",
    "PAPER_CONFIGS",
    "PolicyRow",
    "cfg_key",
    "evaluate_policy",
    "mean_total_ops",
    "policy_row",
    "same_images",
    "table1",
    "table1_markdown",
    "table1_rows",
    "table1_summary",
    "threshold_exits",
]

PAPER_CONFIGS: tuple[tuple[float, float], ...] = ((0.2, 0.4), (0.6, 0.7))
"""The paper's two QDSNN threshold configurations (Cfg θ1/θ2)."""

DYNAMIC_ANN_CONFIG: tuple[float, float] = (0.6, 0.7)
"""Thresholds of the Dynamic ANN row; the paper does not state them, the pipeline uses these."""

SAME_IMAGES_KEY = "ann_on_snn_images"
"""Key of the row "ANN on the SNN's images" (present only for a limited SNN extraction)."""

SEED_LABELS: dict[str, str] = {"multilevel": "Multi-level SNN", "spquant": "SpQuant-SNN"}
"""Row labels of the related seeds' networks (spec §8): the plain network and the paper's Cfg 0.6/0.7."""

FULL_PASS_KEY = "qdsnn_full"
"""Key of the row "QDSNN full pass (every head)"."""


def threshold_exits(confidence: NDArray[np.floating[Any]], thresholds: Sequence[float]) -> NDArray[np.int64]:
    """Exit taken per sample by the rule "first early exit ``k`` whose confidence >= ``thresholds[k]``".

    This is the paper's "Cfg θ1/θ2": exit at exit 1 if its max-softmax ≥ θ1,
    else at exit 2 if ≥ θ2, else at the final head. ``confidence`` is
    ``(N, E)`` (max-softmax per exit); ``thresholds`` has one entry per early
    exit (at most ``E - 1``); samples that pass none take the final exit
    ``E - 1``. Returns int64 ``(N,)``. On confidences binned as the
    environments bin them (``floor(conf * B) / B``) the rule takes the same
    exits whenever every threshold is a multiple of ``1/B``.
    """
    n, n_exits = confidence.shape
    if len(thresholds) > n_exits - 1:
        raise ValueError(f"{len(thresholds)} thresholds for {n_exits - 1} early exits")
    choice = np.full(n, n_exits - 1, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for k, theta in enumerate(thresholds):
        take = open_ & (confidence[:, k] >= theta)
        choice[take] = k
        open_ &= ~take
    return choice


def same_images(traces: TraceSet, like: TraceSet) -> TraceSet:
    """The samples of ``traces`` whose ``sample_ids`` are those of ``like``, in its order."""
    position = {int(s): i for i, s in enumerate(traces.sample_ids)}
    missing = [int(s) for s in like.sample_ids if int(s) not in position]
    if missing:
        raise ValueError(f"{len(missing)} sample ids of the limited traces are not in the full ones "
                         f"(first: {missing[:5]})")
    return traces.subset(np.array([position[int(s)] for s in like.sample_ids], dtype=np.int64))


def mean_total_ops(counters: Mapping[str, float]) -> float:
    """Total ops of mean counters by the one rule of :func:`sparq_gym.traces.costs.total_ops`.

    ``synaptic_ops + lif_ops``, or ``macs`` when there are no spiking
    operations (an ANN): the environments' default cost, applied to a row's
    mean counters.
    """
    names = list(counters)
    return float(total_ops(np.array([counters[name] for name in names], dtype=np.float64), names))


@dataclass
class PolicyRow:
    """One exit policy on one trace split: accuracy and mean counters along the samples' paths.

    :param key: stable identifier (``"ann"``, ``"qdsnn_0.6_0.7"``...), the key of the
        paper's published values.
    :param label: the row's name in the tables (``"QDSNN Cfg 0.6/0.7"``).
    :param network: the traces' ``meta["network"]``.
    :param ops_counter: the counter reported as ``ops``: ``"macs"`` for ANN rows,
        ``"synaptic_ops"`` for spiking rows.
    :param accuracy: accuracy in % (unrounded).
    :param counters: mean of every counter over the samples' paths.
    :param exit_fractions: fraction of samples ending at each exit (final last).
    :param n_samples: samples of the split.
    :param exits: exit index per sample (``None`` for the plain network).
    :param traces: the traces the row was computed on.
    :param path_counts: the counters of every sample's path, ``(N, K)``.
    """

    key: str
    label: str
    network: Any
    ops_counter: str
    accuracy: float
    counters: dict[str, float]
    exit_fractions: list[float]
    n_samples: int
    exits: NDArray[np.int64] | None = None
    traces: TraceSet | None = field(default=None, repr=False, compare=False)
    path_counts: NDArray[np.int64] | None = field(default=None, repr=False, compare=False)

    @property
    def spiking(self) -> bool:
        """Whether the row is a spiking variant (its ops are synaptic ops, not MACs)."""
        return self.ops_counter != "macs"

    @property
    def ops(self) -> float:
        """Mean of :attr:`ops_counter` per sample."""
        return self.counters[self.ops_counter]

    @property
    def total_ops(self) -> float:
        """The environments' default cost: ``synaptic_ops + lif_ops``, or ``macs`` for an ANN."""
        return mean_total_ops(self.counters)

    def manifest_row(self) -> dict[str, Any]:
        """The row as the pipeline's manifest stores it (accuracy rounded to 3 decimals)."""
        return {
            "variant": self.label,
            "network": self.network,
            "accuracy": round(self.accuracy, 3),
            "ops": self.ops,
            "ops_counter": self.ops_counter,
            "total_ops": self.total_ops,
            "counters_mean": self.counters,
            "exit_fractions": self.exit_fractions,
            "n_samples": self.n_samples,
        }


def evaluate_policy(traces: TraceSet, key: str, label: str, exits: NDArray[np.int64] | None,
                    ops_counter: str) -> PolicyRow:
    """One Table-1 row: accuracy (%) and mean counters of a policy on ``traces``.

    ``exits`` gives the exit taken per sample; ``None`` means the plain
    network (final head, cost of the network without exit heads, the traces'
    ``full_counts``). ``ops_counter`` is ``"macs"`` for ANNs and
    ``"synaptic_ops"`` for SNNs.
    """
    if exits is not None:
        exits = np.asarray(exits, dtype=np.int64)
    correct, counts, fractions = traces.path_outcome(exits)
    return PolicyRow(
        key=key,
        label=label,
        network=traces.meta.get("network"),
        ops_counter=ops_counter,
        accuracy=100.0 * float(correct.mean()),
        counters={name: float(counts[:, k].mean()) for k, name in enumerate(traces.counter_names)},
        exit_fractions=fractions,
        n_samples=traces.n_samples,
        exits=exits,
        traces=traces,
        path_counts=counts,
    )


def _cfg_label(cfg: Sequence[float]) -> str:
    return "Cfg " + "/".join(f"{t:g}" for t in cfg)


def cfg_key(cfg: Sequence[float]) -> str:
    """Key of the QDSNN row of threshold configuration ``cfg``: ``(0.6, 0.7)`` -> ``"qdsnn_0.6_0.7"``."""
    return "qdsnn_" + "_".join(f"{t:g}" for t in cfg)


def _timesteps(traces: TraceSet, given: int | None, default: int) -> int:
    return int(traces.meta.get("timesteps", default)) if given is None else given


def table1_rows(traces: Mapping[str, TraceSet], qsnn_timesteps: int | None = None,
                snn_timesteps: int | None = None, *, same_images_row: bool = True,
                full_pass: bool = False) -> list[PolicyRow]:
    """The paper-style Table 1 from the traces of ``dynamic_ann``, ``snn`` and ``qdsnn``.

    Rows whose network is missing from ``traces`` are left out (see the module
    docstring for every row). The ``T`` in the SNN and QSNN labels is the
    given one, else the traces' ``meta["timesteps"]`` (default 32 and 4).
    ``same_images_row`` adds "ANN on the SNN's images" when the SNN traces
    cover fewer images than the ANN's; ``full_pass`` adds "QDSNN full pass".
    """
    rows: list[PolicyRow] = []
    if "dynamic_ann" in traces:
        ann = traces["dynamic_ann"]
        rows.append(evaluate_policy(ann, "ann", "ANN", None, "macs"))
        rows.append(evaluate_policy(ann, "dynamic_ann", f"Dynamic ANN {_cfg_label(DYNAMIC_ANN_CONFIG)}",
                                    threshold_exits(ann.confidence(), DYNAMIC_ANN_CONFIG), "macs"))
    if "snn" in traces:
        snn = traces["snn"]
        rows.append(evaluate_policy(snn, "snn", f"SNN T={_timesteps(snn, snn_timesteps, 32)}", None,
                                    "synaptic_ops"))
        if same_images_row and "dynamic_ann" in traces and snn.n_samples < traces["dynamic_ann"].n_samples:
            # a limited SNN extraction covers a subset only: give the ANN on the same images
            rows.append(evaluate_policy(same_images(traces["dynamic_ann"], snn), SAME_IMAGES_KEY,
                                        "ANN on the SNN's images", None, "macs"))
    if "qdsnn" in traces:
        q = traces["qdsnn"]
        rows.append(evaluate_policy(q, "qsnn", f"QSNN T={_timesteps(q, qsnn_timesteps, 4)}", None,
                                    "synaptic_ops"))
        for cfg in PAPER_CONFIGS:
            rows.append(evaluate_policy(q, cfg_key(cfg), f"QDSNN {_cfg_label(cfg)}",
                                        threshold_exits(q.confidence(), cfg), "synaptic_ops"))
        if full_pass:
            every_head = np.full(q.n_samples, q.n_exits - 1, dtype=np.int64)
            rows.append(evaluate_policy(q, FULL_PASS_KEY, "QDSNN full pass (every head)", every_head,
                                        "synaptic_ops"))
    for name, label in SEED_LABELS.items():
        if name in traces:
            v = traces[name]
            title = f"{label} T={_timesteps(v, None, 1)}"
            rows.append(evaluate_policy(v, name, title, None, "synaptic_ops"))
            rows.append(evaluate_policy(v, f"{name}_0.6_0.7", f"{title} Cfg 0.6/0.7",
                                        threshold_exits(v.confidence(), PAPER_CONFIGS[1]), "synaptic_ops"))
    return rows


def table1(traces: Mapping[str, TraceSet], qsnn_timesteps: int = 4,
           snn_timesteps: int = 32) -> list[dict[str, Any]]:
    """The rows of :func:`table1_rows` as the pipeline's manifest stores them.

    Each row is :meth:`PolicyRow.manifest_row`; the ``T`` of the SNN and QSNN
    labels is ``snn_timesteps`` and ``qsnn_timesteps``.
    """
    return [row.manifest_row() for row in table1_rows(traces, qsnn_timesteps, snn_timesteps)]


def policy_row(traces: TraceSet, label: str, exits: NDArray[np.int64] | None,
               ops_counter: str) -> dict[str, Any]:
    """:func:`evaluate_policy` as a manifest row: accuracy, ``ops``, ``total_ops`` and every counter's mean.

    ``total_ops`` is the environments' default cost (:mod:`sparq_gym.envs.costs`):
    ``synaptic_ops + lif_ops``, or ``macs`` for an ANN.
    """
    return evaluate_policy(traces, "", label, exits, ops_counter).manifest_row()


def table1_summary(rows: Sequence[Mapping[str, Any]], qsnn_timesteps: int = 4) -> dict[str, Any]:
    """The manifest's summary of :func:`table1` rows: QSNN and QDSNN Cfg 0.6/0.7 accuracy, and the
    latter's synaptic ops over the former's; empty without both rows."""
    by_name = {r["variant"]: r for r in rows}
    qsnn = by_name.get(f"QSNN T={qsnn_timesteps}")
    best = by_name.get("QDSNN Cfg 0.6/0.7")
    if not (qsnn and best):
        return {}
    return {
        "qsnn_accuracy": qsnn["accuracy"],
        "qdsnn_0.6/0.7_accuracy": best["accuracy"],
        "qdsnn_0.6/0.7_synaptic_ops_over_qsnn": best["counters_mean"]["synaptic_ops"]
        / max(qsnn["counters_mean"]["synaptic_ops"], 1e-12),
    }


def table1_markdown(rows: list[dict[str, Any]]) -> str:
    """Render Table 1 rows as a Markdown table (accuracy, ops, total ops, exit fractions)."""
    lines = ["| variant | accuracy % | ops (mean/sample) | ops kind | total ops | exit fractions |",
             "|---|---|---|---|---|---|"]
    sizes = {r["n_samples"] for r in rows}
    for r in rows:
        fractions = " / ".join(f"{f:.3f}" for f in r["exit_fractions"])
        images = f" ({r['n_samples']:,} images)" if len(sizes) > 1 else ""
        lines.append(f"| {r['variant']}{images} | {r['accuracy']:.2f} | {r['ops']:,.0f} | "
                     f"{r['ops_counter']} | {r['total_ops']:,.0f} | {fractions} |")
    return "\n".join(lines) + "\n"
