"""The pipeline's depth x time stages: ``qdsnn_time`` traces from INT8 weights, and their shipping.

``extract:qdsnn_time:<split>`` runs the INT8 network (T = ``qsnn_timesteps``)
once over a split and writes every head after every timestep with the costs
per (block, t) and (head, t) (:mod:`sparq_gym.traces.extract_time`) into
``<out_root>/<backbone>/qdsnn_time/``. Its weights are the pipeline's own
``<work_dir>/qsnn_int8.npz`` when that exists, else the shipped
``<out_root>/<backbone>/weights/qsnn_int8.npz``: the traces are rebuilt from
what ships, without training. The hold-out is the one recorded in the
weights' provenance (size, seed, and the indices' sha256, which must match),
so ``train`` holds the same images in the same order as ``qdsnn/``.
:func:`ship_time_traces` adds the trace files, their sha256 and the stage
records to ``<out_root>/<backbone>/manifest.json``, keeping the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sparq_gym.backbones.spiking import SpikingNetwork, SpikingWeights, load_weights
from sparq_gym.data import load_split, split_record
from sparq_gym.io import atomic_write_json, read_json, sha256_file
from sparq_gym.pipeline_records import (
    INT8_STEM,
    LIMIT_SELECTION,
    TRACE_SPLITS,
    StageRecords,
    limited_selection,
    log,
    stage_seconds,
)
from sparq_gym.traces.extract import LabelledImages, code_sha256, software_versions
from sparq_gym.traces.extract_time import extract_time_traces, save_time_split

__all__ = ["TimeStageSettings", "WeightsStage", "extract_time_split", "int8_source", "recorded_holdout",
           "require_int8", "ship_time_traces", "weights_folder", "weights_split"]


class TimeStageSettings(Protocol):
    """The :class:`sparq_gym.pipeline.PipelineConfig` fields the depth x time stages read."""

    data_root: str | None
    limit: int | None
    qsnn_timesteps: int
    batch_size: int
    force: bool
    progress: bool
    command: str


def weights_folder(work: Path, out: Path, stem: str) -> Path | None:
    """Folder of the weights ``<stem>.{npz,json}``: ``work`` if the pipeline made them, else
    ``out/weights`` (the shipped ones), else None."""
    for folder in (work, out / "weights"):
        if (folder / f"{stem}.npz").exists() and (folder / f"{stem}.json").exists():
            return folder
    return None


def int8_source(work: Path, out: Path) -> Path | None:
    """Folder of the INT8 weights (:func:`weights_folder` of ``qsnn_int8``)."""
    return weights_folder(work, out, INT8_STEM)


def recorded_holdout(provenance: dict[str, Any],
                     dataset_split: str) -> tuple[dict[str, int], dict[str, Any] | None]:
    """Hold-out arguments of :func:`load_split` and the data record the weights were made with."""
    records = provenance.get("data") or {}
    holdout = records.get("holdout") or {}
    args = {"holdout_size": int(holdout.get("holdout_size") or 5000),
            "holdout_seed": int(holdout.get("holdout_seed") or 0)}
    return args, records.get(dataset_split)


def require_int8(work: Path, out: Path, stage: str) -> Path:
    """:func:`int8_source`, or an error naming ``stage`` and where it looked."""
    folder = int8_source(work, out)
    if folder is None:
        raise FileNotFoundError(f"{stage}: no INT8 weights {INT8_STEM}.npz/.json in {work} or "
                                f"{out / 'weights'}; run the pipeline's qat stage first")
    return folder


def weights_split(weights: SpikingWeights, data_root: str | None, stage: str,
                  trace_split: str) -> tuple[Any, dict[str, Any]]:
    """The dataset split behind ``trace_split`` with the hold-out ``weights`` were made with, and its record.

    ``trace_split`` is ``"train"`` or ``"test"`` (or a dataset split, e.g. ``"fit"``).
    Fails, naming ``stage``, when the images differ from those the weights' provenance records.
    """
    dataset_split = TRACE_SPLITS.get(trace_split, trace_split)
    holdout, recorded = recorded_holdout(weights.provenance, dataset_split)
    split = load_split(weights.spec.dataset, dataset_split, data_root,
                       holdout_size=holdout["holdout_size"], holdout_seed=holdout["holdout_seed"])
    record = split_record(split)
    if recorded and recorded.get("indices_sha256") != record["indices_sha256"]:
        raise ValueError(f"{stage}: the {dataset_split!r} images differ from those the INT8 weights record "
                         f"({record['indices_sha256'][:12]}... vs {recorded['indices_sha256'][:12]}...)")
    return split, record


def _qdsnn_images(out: Path, trace_split: str) -> str | None:
    """sha256 of the image indices of ``<out>/qdsnn``'s ``trace_split`` (None when not shipped)."""
    path = out / "qdsnn" / "manifest.json"
    if not path.exists():
        return None
    record = read_json(path).get("split_provenance", {}).get(trace_split, {})
    return (record.get("data") or {}).get("indices_sha256")


@dataclass
class WeightsStage:
    """An extraction stage from a weights file, past its up-to-date check: what its body needs.

    :func:`WeightsStage.start` is the one place that resolves the images, builds the
    stage's recorded inputs, skips an up-to-date stage and logs; the v0-format
    (:mod:`sparq_gym.pipeline_variants`) and depth x time extractions share it.
    """

    split: Any
    record: dict[str, Any]
    inputs: dict[str, Any]
    take: Any
    source: tuple[SpikingNetwork, SpikingWeights, Path, str]
    source_sha: str
    t0: float

    @classmethod
    def start(cls, settings: TimeStageSettings, records: StageRecords, stage: str, trace_split: str,
              source: tuple[SpikingNetwork, SpikingWeights, Path, str]) -> WeightsStage | None:
        """The stage's inputs; None (logged) when it is up to date and not forced."""
        network, weights, folder, stem = source
        source_sha = sha256_file(folder / f"{stem}.npz")
        split, record = weights_split(weights, settings.data_root, stage, trace_split)
        limit = settings.limit
        inputs = {"source_sha256": source_sha, "data": record["indices_sha256"],
                  "source_md5": record["source_md5"], "timesteps": network.timesteps, "limit": limit,
                  "selection": None if limit is None else LIMIT_SELECTION, "code_sha256": code_sha256()}
        if network.spike_levels != 1:
            inputs["spike_levels"] = network.spike_levels
        if not settings.force and records.up_to_date(stage, inputs):
            log(f"{stage}: up to date, skipped")
            return None
        log(f"{stage}: running (weights {stem} from {folder})")
        return cls(split, record, inputs, limited_selection(len(split), limit), source, source_sha,
                   time.perf_counter())

    def images(self, trace_split: str) -> LabelledImages:
        """The selected images of the split, normalised as the weights were trained."""
        weights = self.source[1]
        return LabelledImages(trace_split, self.split.images[self.take], self.split.labels[self.take],
                              self.split.indices[self.take], tuple(weights.mean), tuple(weights.std))

    def meta(self, settings: TimeStageSettings, split: Any) -> dict[str, Any]:
        """Manifest entries: class names, command and the weights' provenance."""
        _, _, folder, stem = self.source
        return {"class_names": list(split.info.class_names), "command": settings.command,
                "source": {"weights": stem, "sha256": self.source_sha, "path": str(folder)}}

    def provenance(self, settings: TimeStageSettings) -> dict[str, Any]:
        """The split's provenance record in the trace manifest."""
        return {"data": self.record, "source_sha256": self.source_sha, "limit": self.inputs["limit"],
                "selection": self.inputs["selection"], "seconds": round(time.perf_counter() - self.t0, 2),
                "command": settings.command}


def extract_time_split(settings: TimeStageSettings, records: StageRecords, work: Path, out: Path,
                       name: str, trace_split: str,
                       source: tuple[SpikingNetwork, SpikingWeights, Path, str] | None = None) -> None:
    """Stage ``extract:<name>:<trace_split>``: depth x time traces -> ``<out>/<name>/<trace_split>.npz``.

    ``source`` is the network, its weights, their folder and file stem (default:
    the INT8 weights at ``qsnn_timesteps``, for ``qdsnn_time``; the seed
    variants' come from :func:`sparq_gym.pipeline_variants.variant_network`).
    Skipped when its recorded inputs (weights sha256, images, timesteps,
    limit, extraction code) and output are unchanged, unless ``settings.force``.
    """
    stage = f"extract:{name}:{trace_split}"
    if source is None:
        folder = require_int8(work, out, stage)
        weights = load_weights(folder, INT8_STEM)
        source = (SpikingNetwork(weights, settings.qsnn_timesteps), weights, folder, INT8_STEM)
    job = WeightsStage.start(settings, records, stage, trace_split, source)
    if job is None:
        return
    network, weights, folder, _ = source
    arrays, meta = extract_time_traces(network, weights.spec, job.images(trace_split), name=name,
                                       batch_size=settings.batch_size, progress=settings.progress,
                                       meta=job.meta(settings, job.split))
    archive = save_time_split(arrays, meta, out / name, trace_split,
                              split_provenance=job.provenance(settings))
    record, take, t0, inputs = job.record, job.take, job.t0, job.inputs
    same = _qdsnn_images(out, trace_split) in (None, record["indices_sha256"])
    accuracy = arrays["probs"][:, :, -1].argmax(axis=2) == arrays["labels"][:, None]
    log(f"{stage}: {len(take)} samples, accuracy per exit at T "
        f"{[round(100 * float(a), 2) for a in accuracy.mean(axis=0)]}, {time.perf_counter() - t0:.1f} s"
        + ("" if same else "; WARNING: not the images of qdsnn/"))
    records.record(stage, inputs, [archive], t0, {"n_samples": len(take), "weights": str(folder),
                                                  "same_images_as_qdsnn": same})


def ship_time_traces(records: StageRecords, out: Path, names: tuple[str, ...],
                     backbone: str) -> dict[str, Any]:
    """Add the trace sets ``names`` to ``<out>/manifest.json`` (files, sha256, stage records).

    Used for the depth x time sets and for the seed variants
    (:mod:`sparq_gym.pipeline_variants`).

    The other entries of the backbone manifest (Table 1, v0 files, earlier
    stage records) are kept; a missing manifest is started. Returns the manifest.
    """
    path = out / "manifest.json"
    manifest: dict[str, Any] = read_json(path) if path.exists() else {"backbone": backbone}
    present = [n for n in names if (out / n / "manifest.json").exists()]
    networks = dict(manifest.get("networks", {}))
    files = dict(manifest.get("files", {}))
    stages = dict(manifest.get("stages", {}))
    seconds = dict(manifest.get("wall_seconds", {}))
    for name in present:
        networks[name] = f"{name}/"
        for file in sorted((out / name).iterdir()):
            if file.name == "manifest.json" or file.suffix == ".npz":
                files[f"{name}/{file.name}"] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
        for stage, rec in records.data["stages"].items():
            if stage.startswith(f"extract:{name}:"):
                stages[stage] = {k: v for k, v in rec.items() if k != "outputs"}
                seconds[stage] = stage_seconds(rec)
    commands = set(manifest.get("commands", [])) | {rec["command"] for rec in stages.values()
                                                    if rec.get("command")}
    manifest.update({"networks": networks, "files": files, "stages": stages, "wall_seconds": seconds,
                     "commands": sorted(commands)})
    manifest.setdefault("software", software_versions())
    atomic_write_json(path, manifest)
    log(f"ship: {', '.join(present) or 'no depth x time traces'} added to {path}")
    return manifest
