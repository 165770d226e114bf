"""One command from the dataset to ``pretrained/<backbone>/``: train, convert, QAT, extract, ship.

Stages (each one's inputs and outputs are recorded with sha256 in
``<work_dir>/pipeline_state.json``; a stage whose recorded inputs are unchanged
and whose outputs are still on disk with the recorded sha256 is skipped, so an
interrupted run resumes at the first unfinished stage):

1. ``train``: use the trained conversion-ready ANN given by ``ann`` or found at
   ``<work_dir>/ann/model.pt``; otherwise train it there
   (:func:`sparq_gym.backbones.train.train`, resumable by epoch).
2. ``convert``: fold BatchNorm, take the clips as thresholds
   (:func:`sparq_gym.backbones.spiking.convert`) -> ``<work_dir>/snn_fp32.{npz,json}``.
3. ``qat``: INT8 quantization-aware fine-tuning on the ``fit`` split
   (:func:`sparq_gym.backbones.quantize.run_qat`, resumable by epoch), export,
   and bias calibration of the INT8 network at T=4 on ``calibration_images``
   training images (:func:`sparq_gym.backbones.spiking.calibrate_biases`)
   -> ``<work_dir>/qsnn_int8.{npz,json}``.
   ``spquant``: the SpQuant-SNN (seed 002) pruned and fine-tuned from the INT8
   weights (:mod:`sparq_gym.pipeline_variants`) -> ``<work_dir>/spquant.{npz,json}``.
4. ``extract:<network>:<split>``: traces of ``qdsnn`` (T=4, INT8),
   ``dynamic_ann`` and ``snn`` (T=32, FP32) on ``train`` (the hold-out images,
   never seen in training) and ``test`` -> ``<out_root>/<backbone>/<network>/``.
   Its inputs include a hash of the extraction code
   (:func:`sparq_gym.traces.extract.code_sha256`): changed counters re-extract.
   ``extract:qdsnn_time:<split>``: the depth x time traces (spec §9) of the
   INT8 network, every head after every timestep
   (:mod:`sparq_gym.pipeline_time`) -> ``<out_root>/<backbone>/qdsnn_time/``.
   ``extract:multilevel:<split>`` and ``extract:spquant:<split>``: the related
   seeds' networks (spec §8) from the INT8 weights and the SpQuant weights
   (:mod:`sparq_gym.pipeline_variants`) -> ``<out_root>/<backbone>/<network>/``.
5. ``ship``: copy the INT8 weights to ``<out_root>/<backbone>/weights/`` and
   write ``<out_root>/<backbone>/manifest.json`` with the paper-style Table 1
   computed from the ``test`` traces, the stage records (commands, wall
   times, inputs, outputs) and the size and sha256 of every shipped file.

Table 1 is :func:`sparq_gym.reports.table1.table1` on the ``test`` traces, the
function ``sparq report`` uses too (see :mod:`sparq_gym.reports.table1` for its rows).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sparq_gym.backbones.quantize import QATConfig, export_int8, run_qat
from sparq_gym.backbones.spec import BackboneSpec, get_spec
from sparq_gym.backbones.spiking import SpikingNetwork, calibrate_biases, convert, load_weights, save_weights
from sparq_gym.backbones.spiking.spquant import SpQuantConfig
from sparq_gym.backbones.train import TrainConfig, load_train_data, load_trained, train
from sparq_gym.data import DATASETS, load_split, normalize_pixels, split_record
from sparq_gym.io import atomic_write_bytes, atomic_write_json, read_json, sha256_file
from sparq_gym.paths import ANN_NETWORKS, NETWORKS, SEED_NETWORKS, TIME_NETWORKS, pretrained_root
from sparq_gym.pipeline_records import (
    INT8_STEM,
    LIMIT_SELECTION,
    STATE_NAME,
    TRACE_SPLITS,
    StageRecords,
    limited_selection,
    log,
    stage_seconds,
)
from sparq_gym.pipeline_time import extract_time_split, int8_source, ship_time_traces
from sparq_gym.pipeline_variants import (
    extract_seed_time_split,
    extract_variant_split,
    run_spquant,
    ship_variants,
    spquant_folder,
)
from sparq_gym.reports.table1 import (
    policy_row,
    same_images,
    table1,
    table1_markdown,
    table1_summary,
    threshold_exits,
)
from sparq_gym.traces import TraceSet
from sparq_gym.traces.extract import (
    LabelledImages,
    code_sha256,
    extract_traces,
    save_split,
    software_versions,
)

__all__ = [  # policy_row, same_images, table1*, threshold_exits: from sparq_gym.reports.table1
    "LIMIT_SELECTION", "PIPELINE_STAGES", "PipelineConfig", "limited_selection", "policy_row",
    "run_pipeline", "same_images", "table1", "table1_markdown", "threshold_exits",
]

PIPELINE_STAGES: tuple[str, ...] = ("train", "convert", "qat", "extract", "ship")
"""Stage names in order (``extract`` has one sub-stage per network and split)."""

FP32_STEM = "snn_fp32"


@dataclass
class PipelineConfig:
    """Settings of one pipeline run for one backbone.

    :param backbone: registered backbone name.
    :param work_dir: intermediate files (ANN run, converted and INT8 weights,
        QAT checkpoint, stage records); default ``runs/<backbone>``.
    :param out_root: root of the shipped artifacts; default the project's ``pretrained/``.
    :param ann: trained ANN (``model.pt`` or ``checkpoint.pt`` of
        :mod:`sparq_gym.backbones.train`); default ``<work_dir>/ann/model.pt``,
        trained when absent.
    :param data_root: dataset root (default: :func:`sparq_gym.data.data_root`).
    :param train_epochs: epochs when the ANN has to be trained (None: the backbone's).
    :param qat_epochs: QAT fine-tuning epochs.
    :param qat_lr: QAT initial learning rate.
    :param qat_max_steps: cap on QAT steps per epoch (smoke runs).
    :param calibration_images: ``fit`` images used to calibrate the INT8
        network's biases at ``qsnn_timesteps``
        (:func:`sparq_gym.backbones.spiking.calibrate_biases`); 0 disables it.
    :param qsnn_timesteps: T of the INT8 network (paper: 4).
    :param snn_timesteps: T of the FP32 SNN (paper: 32).
    :param batch_size: extraction batch size.
    :param limit: extract only ``limit`` images of each split (smoke runs), chosen by
        :func:`limited_selection`.
    :param snn_limit: the same for the FP32 SNN only (T=32 costs 8x the T=4
        network; used for AlexNet on a 2-core CPU); None: as ``limit``.
    :param networks: trace sets to extract: variants of :data:`sparq_gym.paths.NETWORKS` and
        depth x time sets of :data:`sparq_gym.paths.TIME_NETWORKS` (default: all).
    :param force: re-run every stage even when its records are up to date.
    :param progress: show progress bars.
    :param command: the command line that started the run (recorded).
    :param verify: check the dataset files' md5 (``--no-verify``: skip; trusted copies only).
    :param multilevel_timesteps: T of the multi-level network (seed 004; default 1).
    :param spquant: settings of the SpQuant-SNN and its fine-tuning (seed 002).
    """

    backbone: str
    work_dir: str | None = None
    out_root: str | None = None
    ann: str | None = None
    data_root: str | None = None
    train_epochs: int | None = None
    qat_epochs: int = 2
    qat_lr: float = 1e-4
    qat_max_steps: int | None = None
    calibration_images: int = 512
    qsnn_timesteps: int = 4
    snn_timesteps: int = 32
    batch_size: int = 256
    limit: int | None = None
    snn_limit: int | None = None
    networks: tuple[str, ...] = NETWORKS + TIME_NETWORKS
    force: bool = False
    progress: bool = True
    command: str = ""
    verify: bool = True
    multilevel_timesteps: int = 1
    spquant: SpQuantConfig = field(default_factory=SpQuantConfig)

    def work_path(self) -> Path:
        """The work directory as a path."""
        return Path(self.work_dir) if self.work_dir else Path("runs") / self.backbone

    def out_path(self) -> Path:
        """``<out_root>/<backbone>``."""
        return (Path(self.out_root) if self.out_root else pretrained_root()) / self.backbone


class _Run:
    """What the stages of one run share: settings, folders, stage records, the ANN and the splits."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.spec = get_spec(config.backbone)
        self.work = config.work_path().resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.out = config.out_path().resolve()
        self.state = StageRecords(self.work / STATE_NAME, config.command)
        self._splits: dict[str, Any] = {}
        self._ann_state: dict[str, Any] | None = None
        self.ann_path: Path | None = None

    def skip(self, stage: str, inputs: dict[str, Any]) -> bool:
        """Whether ``stage`` is up to date for ``inputs`` (and not forced); logs the decision."""
        if not self.config.force and self.state.up_to_date(stage, inputs):
            log(f"{stage}: up to date, skipped")
            return True
        log(f"{stage}: running")
        return False

    def ann_state(self) -> dict[str, Any]:
        assert self.ann_path is not None
        if self._ann_state is None:
            self._ann_state = torch.load(self.ann_path, map_location="cpu", weights_only=False)
        return self._ann_state

    def ann_sha(self) -> str:
        return self.state.data["stages"]["train"]["outputs"][str(self.ann_path)]

    def holdout_args(self) -> dict[str, Any]:
        config = self.ann_state()["config"]
        return {"holdout_size": int(config.get("holdout_size", 5000)),
                "holdout_seed": int(config.get("holdout_seed", 0))}

    def split(self, dataset_split: str) -> Any:
        if dataset_split not in self._splits:
            self._splits[dataset_split] = load_split(self.spec.dataset, dataset_split, self.config.data_root,
                                                     verify=self.config.verify, **self.holdout_args())
        return self._splits[dataset_split]

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        info = DATASETS[self.spec.dataset]
        return tuple(info.mean), tuple(info.std)

    def network(self, variant: str) -> Any:
        """Build the network of ``variant`` from the ANN or the weights in the work directory."""
        if variant == "dynamic_ann":
            return load_trained(self.ann_path)  # type: ignore[arg-type]
        if variant == "snn":
            return SpikingNetwork(load_weights(self.work, FP32_STEM), self.config.snn_timesteps)
        if variant == "qdsnn":
            return SpikingNetwork(load_weights(self.work, INT8_STEM), self.config.qsnn_timesteps)
        raise ValueError(f"network must be one of {list(ANN_NETWORKS)}, got {variant!r}")


def _locate_ann(run: _Run) -> tuple[Path, str]:
    """The trained ANN and how it was obtained (``given``, ``found`` or ``trained`` now)."""
    cfg = run.config
    if cfg.ann:
        path = Path(cfg.ann)
        if not path.exists():
            raise FileNotFoundError(f"{path}: trained ANN not found (--ann)")
        return path, "given"
    path = run.work / "ann" / "model.pt"
    if path.exists():
        return path, "found"
    log(f"train: no trained ANN at {path}; training one")
    train(TrainConfig(backbone=run.spec.name, out_dir=str(path.parent), data_root=cfg.data_root,
                      epochs=cfg.train_epochs, progress=cfg.progress, verify=cfg.verify), resume=True)
    return path, "trained"


def _stage_train(run: _Run) -> None:
    """Locate (or train) the ANN, adopt the backbone description it was trained with, record it."""
    t0 = time.perf_counter()
    path, how = _locate_ann(run)
    run.ann_path = path
    state = run.ann_state()
    if state["spec"]["name"] != run.spec.name:
        raise ValueError(f"{path}: trained for backbone {state['spec']['name']!r}, "
                         f"not {run.spec.name!r}")
    run.spec = BackboneSpec.from_dict(state["spec"])  # the description the ANN was trained with
    trained = state.get("config", {})
    if trained.get("epochs") and trained.get("batch_size"):  # what the run really used
        run.spec = replace(run.spec, epochs=int(trained["epochs"]), batch_size=int(trained["batch_size"]))
    metrics_path = path.parent / "metrics.json"
    details = {"ann": str(path), "how": how, "train_config": state.get("config", {}),
               "metrics": read_json(metrics_path) if metrics_path.exists() else None}
    if details["metrics"]:
        details["metrics"] = {k: details["metrics"][k] for k in
                              ("final", "total_train_seconds", "data", "loss_weights", "parent",
                               "total_train_seconds_with_parents")
                              if k in details["metrics"]}
    run.state.record("train", {"ann": str(path)}, [path], t0, details)


def _stage_convert(run: _Run) -> None:
    """Fold BatchNorm, take the clips as thresholds -> ``<work>/snn_fp32.{npz,json}``."""
    inputs = {"ann_sha256": run.ann_sha()}
    if run.skip("convert", inputs):
        return
    t0 = time.perf_counter()
    mean, std = run.normalization()
    weights = convert(load_trained(run.ann_path), mean, std,  # type: ignore[arg-type]
                      provenance={"ann": str(run.ann_path), "ann_sha256": run.ann_sha()})
    config = save_weights(weights, run.work, FP32_STEM)
    outputs = [run.work / f"{FP32_STEM}.npz", run.work / f"{FP32_STEM}.json"]
    run.state.record("convert", inputs, outputs, t0,
                     {"thresholds": weights.thresholds, "weights_sha256": config["sha256"]})


def _calibrate(run: _Run, weights: Any, qat: Any,
               fit_images: NDArray[np.uint8]) -> tuple[Any, dict[str, float]]:
    """Bias calibration of the INT8 network at T = ``qsnn_timesteps`` on the first fit images."""
    cfg = run.config
    if cfg.calibration_images <= 0:
        return weights, {}
    # training images only (first of the fit split): the hold-out and test stay unseen
    mean, std = run.normalization()
    x = normalize_pixels(torch.from_numpy(fit_images[:cfg.calibration_images]), mean, std)
    weights, corrections = calibrate_biases(weights, qat, x, cfg.qsnn_timesteps)
    log(f"qat: bias calibration on {x.shape[0]} fit images, mean |correction| per layer "
         f"{ {k: round(v, 4) for k, v in corrections.items()} }")
    return weights, corrections


def _stage_qat(run: _Run) -> None:
    """QAT on the ``fit`` split, INT8 export and bias calibration -> ``<work>/qsnn_int8.{npz,json}``."""
    cfg = run.config
    qat_config = QATConfig(epochs=cfg.qat_epochs, lr=cfg.qat_lr, max_steps_per_epoch=cfg.qat_max_steps,
                           progress=cfg.progress)
    inputs = {"ann_sha256": run.ann_sha(), "qat_config": asdict(qat_config),
              "calibration_images": cfg.calibration_images, "qsnn_timesteps": cfg.qsnn_timesteps}
    if run.skip("qat", inputs):
        return
    t0 = time.perf_counter()
    network = load_trained(run.ann_path)  # type: ignore[arg-type]
    train_config = TrainConfig(backbone=run.spec.name, out_dir=str(run.work / "qat"),
                               data_root=cfg.data_root, eval_holdout=True, verify=cfg.verify,
                               **run.holdout_args())
    data = load_train_data(train_config, run.spec)
    # monitor on the hold-out only: the test split is for evaluation, never for decisions
    data.eval_sets = {"holdout": data.eval_sets["holdout"]}
    qat_dir = run.work / "qat"
    previous = run.state.data["stages"].get("qat")
    if cfg.force or (previous is not None and previous.get("inputs") != inputs):
        (qat_dir / "qat_checkpoint.pt").unlink(missing_ok=True)  # forced or new settings: start over
    qat, log = run_qat(network, qat_config, data, qat_dir, resume=True)
    mean, std = run.normalization()
    weights = export_int8(qat, mean, std, provenance={
        "ann_sha256": run.ann_sha(), "qat": log, "data": data.provenance})
    weights, corrections = _calibrate(run, weights, qat, data.fit_images)
    config = save_weights(weights, run.work, INT8_STEM)
    outputs = [run.work / f"{INT8_STEM}.npz", run.work / f"{INT8_STEM}.json"]
    run.state.record("qat", inputs, outputs, t0,
                     {"log": log["epochs"], "weights_sha256": config["sha256"],
                      "bias_calibration": corrections,
                      "input_scale": weights.input_scale, "input_zero_point": weights.input_zero_point})


def _check_same_images(run: _Run, trace_split: str, record: dict[str, Any]) -> None:
    """Fail if the images of a split differ from the ones the ANN run recorded.

    The ``train`` trace split must be the hold-out the ANN never trained on;
    a different numpy or seed would silently change it.
    """
    metrics = (run.state.data["stages"]["train"] or {}).get("details", {}).get("metrics") or {}
    recorded = (metrics.get("data") or {}).get(TRACE_SPLITS[trace_split])
    if recorded and recorded.get("indices_sha256") != record["indices_sha256"]:
        raise ValueError(
            f"the {TRACE_SPLITS[trace_split]!r} images differ from those recorded when the ANN was "
            f"trained (indices sha256 {record['indices_sha256'][:12]}... vs "
            f"{recorded.get('indices_sha256', '')[:12]}...): the trace split would not be held out"
        )


def _stage_extract(run: _Run, variant: str, trace_split: str) -> None:
    """Traces of ``variant`` on ``trace_split`` -> ``<out>/<variant>/<trace_split>.npz``."""
    cfg = run.config
    stage = f"extract:{variant}:{trace_split}"
    source_name = {"dynamic_ann": "ann", "snn": FP32_STEM, "qdsnn": INT8_STEM}[variant]
    source_sha = (run.ann_sha() if variant == "dynamic_ann"
                  else sha256_file(run.work / f"{source_name}.npz"))
    split = run.split(TRACE_SPLITS[trace_split])
    record = split_record(split)
    _check_same_images(run, trace_split, record)
    timesteps = {"dynamic_ann": 1, "snn": cfg.snn_timesteps, "qdsnn": cfg.qsnn_timesteps}[variant]
    limit = cfg.snn_limit if variant == "snn" and cfg.snn_limit is not None else cfg.limit
    inputs = {"source_sha256": source_sha, "data": record["indices_sha256"],
              "source_md5": record["source_md5"], "timesteps": timesteps, "limit": limit,
              "selection": None if limit is None else LIMIT_SELECTION,
              "code_sha256": code_sha256()}
    if run.skip(stage, inputs):
        return
    t0 = time.perf_counter()
    network = run.network(variant)
    take = limited_selection(len(split), limit)
    n = len(take)
    mean, std = run.normalization()
    traces = extract_traces(
        network, run.spec, variant,
        LabelledImages(trace_split, split.images[take], split.labels[take], split.indices[take], mean, std),
        batch_size=cfg.batch_size, progress=cfg.progress,
        meta={"class_names": list(split.info.class_names), "command": cfg.command,
              "source": {"weights": source_name, "sha256": source_sha,
                         "ann": str(run.ann_path), "ann_sha256": run.ann_sha()}})
    archive = save_split(traces, run.out / variant, split_provenance={
        "data": record, "source_sha256": source_sha, "limit": limit,
        "selection": None if limit is None else LIMIT_SELECTION,
        "seconds": round(time.perf_counter() - t0, 2), "command": cfg.command})
    accuracy = traces.accuracy_per_exit()
    log(f"{stage}: {n} samples, accuracy per exit {[round(100 * a, 2) for a in accuracy]}, "
         f"{time.perf_counter() - t0:.1f} s")
    run.state.record(stage, inputs, [archive], t0, {"n_samples": n, "accuracy_per_exit": accuracy})


def _ship_weights(run: _Run) -> list[Path]:
    """Copy the INT8 weights to ``<out>/weights/`` (only when they changed)."""
    shipped: list[Path] = []
    for suffix in ("npz", "json"):
        source = run.work / f"{INT8_STEM}.{suffix}"
        target = run.out / "weights" / source.name
        if not target.exists() or sha256_file(target) != sha256_file(source):
            atomic_write_bytes(target, source.read_bytes())
        shipped.append(target)
    return shipped


def _stage_ship(run: _Run) -> dict[str, Any]:
    """Ship the INT8 weights and write ``<out>/manifest.json`` with Table 1 and the stage records."""
    cfg = run.config
    t0 = time.perf_counter()
    shipped = _ship_weights(run)
    test_traces = {variant: TraceSet.load(run.out / variant, "test") for variant in NETWORKS
                   if (variant in cfg.networks or variant in SEED_NETWORKS)
                   and (run.out / variant / "manifest.json").exists()}
    rows = table1(test_traces, cfg.qsnn_timesteps, cfg.snn_timesteps)
    shipped += [run.out / variant / name for variant in test_traces
                for name in ("manifest.json", "train.npz", "test.npz")
                if (run.out / variant / name).exists()]
    files = {str(p.relative_to(run.out)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
             for p in shipped}
    stages = run.state.data["stages"]
    manifest: dict[str, Any] = {
        "backbone": run.spec.name,
        "dataset": run.spec.dataset,
        "table1": {"split": "test", "rows": rows, "markdown": table1_markdown(rows)},
        "summary": table1_summary(rows, cfg.qsnn_timesteps),
        "networks": {v: f"{v}/" for v in test_traces},
        "weights": {"int8": f"weights/{INT8_STEM}.npz", "config": f"weights/{INT8_STEM}.json"},
        "files": files,
        "stages": {name: {k: v for k, v in rec.items() if k != "outputs"}
                   for name, rec in stages.items()},
        "wall_seconds": {name: stage_seconds(rec) for name, rec in stages.items()},
        "pipeline_config": asdict(cfg),
        "commands": sorted({rec["command"] for rec in stages.values() if rec.get("command")}),
        "backbone_config": run.spec.to_dict(),
        "software": software_versions(),
    }
    manifest["wall_seconds"]["ship"] = round(time.perf_counter() - t0, 2)
    atomic_write_json(run.out / "manifest.json", manifest)
    log("ship: wrote " + str(run.out / "manifest.json"))
    print(table1_markdown(rows), flush=True)
    return manifest


def run_pipeline(config: PipelineConfig, stages: Sequence[str] = PIPELINE_STAGES) -> dict[str, Any]:
    """Run the named stages of the pipeline for one backbone (see the module docstring).

    ``train`` runs first (it only locates or trains the ANN), except when only
    depth x time traces (:data:`~sparq_gym.paths.TIME_NETWORKS`) are asked for
    and INT8 weights exist (:func:`sparq_gym.pipeline_time.int8_source`): then
    no ANN is needed and train, convert and qat are skipped. Returns the
    shipped manifest when ``ship`` ran, else the stage records.
    """
    unknown = [s for s in stages if s not in PIPELINE_STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; expected some of {list(PIPELINE_STAGES)}")
    bad = [n for n in config.networks if n not in NETWORKS + TIME_NETWORKS]
    if bad:
        raise ValueError(f"unknown networks {bad}; expected some of {list(NETWORKS + TIME_NETWORKS)}")
    v0 = tuple(n for n in config.networks if n in ANN_NETWORKS)
    seeds = tuple(n for n in config.networks if n in SEED_NETWORKS)
    timed = tuple(n for n in config.networks if n in TIME_NETWORKS)
    run = _Run(config)
    if not v0 and int8_source(run.work, run.out) is not None:
        log("train, convert, qat: not needed (traces built from existing INT8 weights)")
    else:
        _stage_train(run)
        if "convert" in stages or ("extract" in stages and "snn" in v0
                                   and not (run.work / f"{FP32_STEM}.npz").exists()):
            _stage_convert(run)
        if "qat" in stages or ("extract" in stages and ("qdsnn" in v0 or timed or seeds)
                               and not (run.work / f"{INT8_STEM}.npz").exists()):
            _stage_qat(run)
    for variant in v0 if "extract" in stages else ():
        for trace_split in TRACE_SPLITS:
            _stage_extract(run, variant, trace_split)
    for name in seeds if "extract" in stages else ():
        if name == "spquant":
            run_spquant(config, run.state, run.work, run.out)
        for trace_split in TRACE_SPLITS:
            extract_variant_split(config, run.state, run.work, run.out, name, trace_split)
    for name in timed if "extract" in stages else ():
        if name == "spquant_time" and "spquant" not in seeds and spquant_folder(run.work, run.out) is None:
            run_spquant(config, run.state, run.work, run.out)  # no SpQuant weights yet: make them
        for trace_split in TRACE_SPLITS:
            if name == "qdsnn_time":
                extract_time_split(config, run.state, run.work, run.out, name, trace_split)
            else:
                extract_seed_time_split(config, run.state, run.work, run.out, name, trace_split)
    if "ship" in stages:
        manifest = _stage_ship(run) if v0 else {}
        if seeds:
            manifest = ship_variants(run.state, run.work, run.out, seeds, run.spec.name,
                                     config.qsnn_timesteps, config.snn_timesteps)
        return ship_time_traces(run.state, run.out, timed, run.spec.name) if timed else manifest
    return run.state.data
