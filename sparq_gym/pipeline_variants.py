"""The pipeline's stages for the related seeds' networks (spec §8): ``multilevel`` and ``spquant``.

Both are built from the INT8 QSNN weights (the pipeline's own
``<work_dir>/qsnn_int8.npz``, else the shipped ``<out>/weights/qsnn_int8.npz``,
as :mod:`sparq_gym.pipeline_time`), with its exits and on the images its
provenance records, so no ANN is needed:

``spquant``
    Prune, fine-tune and export the SpQuant-SNN
    (:func:`sparq_gym.backbones.spiking.spquant.build_spquant`) on the ``fit``
    images -> ``<work_dir>/spquant.{npz,json}``; resumable (checkpoint in
    ``<work_dir>/spquant/``), skipped when its inputs are unchanged.
``extract:multilevel:<split>`` and ``extract:spquant:<split>``
    Traces of :func:`variant_network` on ``train`` (hold-out) and ``test``
    -> ``<out>/<network>/``, with the code hash among the inputs.
``ship``
    :func:`ship_variants`: the spquant weights into ``<out>/weights/``, the trace
    files and stage records into ``<out>/manifest.json``, and Table 1 recomputed
    from every network's shipped ``test`` traces.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from sparq_gym.backbones.spiking import SpikingNetwork, SpikingWeights, load_weights, save_weights
from sparq_gym.backbones.spiking.spquant import SpQuantConfig, build_spquant
from sparq_gym.io import atomic_write_bytes, atomic_write_json, read_json, sha256_file
from sparq_gym.paths import NETWORKS
from sparq_gym.pipeline_records import INT8_STEM, StageRecords, log
from sparq_gym.pipeline_time import (
    WeightsStage,
    extract_time_split,
    require_int8,
    ship_time_traces,
    weights_folder,
    weights_split,
)
from sparq_gym.reports.table1 import table1, table1_markdown, table1_summary
from sparq_gym.traces import TraceSet
from sparq_gym.traces.extract import code_sha256, extract_traces, save_split

__all__ = ["SPQUANT_STEM", "VariantSettings", "extract_seed_time_split", "extract_variant_split",
           "run_spquant", "ship_variants", "spquant_folder", "variant_network"]

SPQUANT_STEM = "spquant"
"""File stem of the SpQuant-SNN weights (``<work_dir>/spquant.{npz,json}``, shipped in ``weights/``)."""


class VariantSettings(Protocol):
    """The :class:`sparq_gym.pipeline.PipelineConfig` fields these stages read."""

    data_root: str | None
    limit: int | None
    qsnn_timesteps: int
    multilevel_timesteps: int
    spquant: SpQuantConfig
    batch_size: int
    force: bool
    progress: bool
    command: str


def spquant_folder(work: Path, out: Path) -> Path | None:
    """Folder of the SpQuant weights (:func:`sparq_gym.pipeline_time.weights_folder`)."""
    return weights_folder(work, out, SPQUANT_STEM)


def run_spquant(settings: VariantSettings, records: StageRecords, work: Path, out: Path) -> None:
    """Stage ``spquant``: prune, fine-tune and export the SpQuant-SNN -> ``<work>/spquant.{npz,json}``."""
    folder = require_int8(work, out, "spquant")
    source_sha = sha256_file(folder / f"{INT8_STEM}.npz")
    weights = load_weights(folder, INT8_STEM)
    fit, record = weights_split(weights, settings.data_root, "spquant", "fit")
    config = settings.spquant
    inputs = {"source_sha256": source_sha, "data": record["indices_sha256"], "config": asdict(config),
              "code_sha256": code_sha256()}
    if not settings.force and records.up_to_date("spquant", inputs):
        log("spquant: up to date, skipped")
        return
    log(f"spquant: running (INT8 weights from {folder}; {config})")
    t0 = time.perf_counter()
    trained, details = build_spquant(weights, config, fit.images, fit.labels, work / "spquant",
                                     progress=settings.progress)
    trained.provenance["spquant"]["source_sha256"] = source_sha
    trained.provenance["spquant"]["data"] = record
    saved = save_weights(trained, work, SPQUANT_STEM)
    tuned = details["finetune"]
    log(f"spquant: {tuned['steps']} fine-tuning steps on {tuned['images']} images, "
        f"{time.perf_counter() - t0:.1f} s")
    records.record("spquant", inputs, [work / f"{SPQUANT_STEM}.npz", work / f"{SPQUANT_STEM}.json"], t0,
                   {"weights_sha256": saved["sha256"], **{k: v for k, v in details.items() if k != "config"}})


def variant_network(name: str, work: Path, out: Path,
                    settings: VariantSettings) -> tuple[SpikingNetwork, SpikingWeights, Path, str]:
    """The network of seed variant ``name``, its weights, their folder and file stem.

    ``multilevel``: the INT8 weights at ``T = multilevel_timesteps`` with
    ``N = ceil(L / T)`` spike levels (``N T >= L``: at T = 1, N = L and the
    network computes its clip-floor-shift ANN exactly). ``spquant``: its own
    weights at their ``T``.
    """
    if name == "multilevel":
        folder = require_int8(work, out, f"extract:{name}")
        weights = load_weights(folder, INT8_STEM)
        t = settings.multilevel_timesteps
        levels = -(-weights.spec.levels // t)
        return SpikingNetwork(weights, t, spike_levels=levels), weights, folder, INT8_STEM
    if name == "spquant":
        found = spquant_folder(work, out)
        if found is None:
            raise FileNotFoundError(f"extract:spquant: no {SPQUANT_STEM}.npz/.json in {work} or "
                                    f"{out / 'weights'}; run the pipeline's spquant stage first")
        weights = load_weights(found, SPQUANT_STEM)
        timesteps = int(weights.provenance["spquant"]["config"]["timesteps"])
        return SpikingNetwork(weights, timesteps), weights, found, SPQUANT_STEM
    raise ValueError(f"seed network must be 'multilevel' or 'spquant', got {name!r}")


def extract_variant_split(settings: VariantSettings, records: StageRecords, work: Path, out: Path,
                          name: str, trace_split: str) -> None:
    """Stage ``extract:<name>:<split>`` -> ``<out>/<name>/<split>.npz`` (skipped when up to date)."""
    stage = f"extract:{name}:{trace_split}"
    source = variant_network(name, work, out, settings)
    job = WeightsStage.start(settings, records, stage, trace_split, source)
    if job is None:
        return
    network, weights, folder, _ = source
    traces = extract_traces(network, weights.spec, name, job.images(trace_split),
                            batch_size=settings.batch_size, progress=settings.progress,
                            meta=job.meta(settings, job.split))
    archive = save_split(traces, out / name, split_provenance=job.provenance(settings))
    take, t0, inputs = job.take, job.t0, job.inputs
    accuracy = traces.accuracy_per_exit()
    log(f"{stage}: {len(take)} samples, accuracy per exit {[round(100 * a, 2) for a in accuracy]}, "
        f"{time.perf_counter() - t0:.1f} s")
    records.record(stage, inputs, [archive], t0, {"n_samples": len(take), "accuracy_per_exit": accuracy,
                                                  "weights": str(folder)})


def extract_seed_time_split(settings: VariantSettings, records: StageRecords, work: Path, out: Path,
                            name: str, trace_split: str) -> None:
    """Stage ``extract:<name>:<split>`` of ``multilevel_time`` or ``spquant_time``: the depth x time
    traces of :func:`variant_network`'s network (:func:`sparq_gym.pipeline_time.extract_time_split`)."""
    source = variant_network(name.removesuffix("_time"), work, out, settings)
    extract_time_split(settings, records, work, out, name, trace_split, source=source)


def ship_variants(records: StageRecords, work: Path, out: Path, names: tuple[str, ...], backbone: str,
                  qsnn_timesteps: int = 4, snn_timesteps: int = 32) -> dict[str, Any]:
    """Ship the seed variants ``names``: spquant weights, trace files, stage records, Table 1 anew."""
    weight_files: list[Path] = []
    if "spquant" in names and (work / f"{SPQUANT_STEM}.npz").exists():
        for suffix in ("npz", "json"):
            source, target = work / f"{SPQUANT_STEM}.{suffix}", out / "weights" / f"{SPQUANT_STEM}.{suffix}"
            if not target.exists() or sha256_file(target) != sha256_file(source):
                atomic_write_bytes(target, source.read_bytes())
            weight_files.append(target)
    manifest = ship_time_traces(records, out, names, backbone)
    for stage in ("spquant",):
        if stage in records.data["stages"]:
            rec = records.data["stages"][stage]
            manifest["stages"][stage] = {k: v for k, v in rec.items() if k != "outputs"}
            tuned = (rec.get("details") or {}).get("finetune") or {}
            # a stage that resumed a finished fine-tuning is quick: the checkpoint keeps the training time
            manifest["wall_seconds"][stage] = max(rec["seconds"], float(tuned.get("seconds", 0.0)))
    for path in weight_files:
        manifest["files"][str(path.relative_to(out))] = {"bytes": path.stat().st_size,
                                                         "sha256": sha256_file(path)}
    if weight_files:
        manifest.setdefault("weights", {})["spquant"] = f"weights/{SPQUANT_STEM}.npz"
    test_traces = {n: TraceSet.load(out / n, "test") for n in NETWORKS
                   if (out / n / "manifest.json").exists() and (out / n / "test.npz").exists()}
    rows = table1(test_traces, qsnn_timesteps, snn_timesteps)
    manifest["table1"] = {"split": "test", "rows": rows, "markdown": table1_markdown(rows)}
    manifest["summary"] = table1_summary(rows, qsnn_timesteps)
    atomic_write_json(out / "manifest.json", manifest)
    log(f"ship: Table 1 of {out.name} recomputed with {', '.join(test_traces)}")
    return read_json(out / "manifest.json")
