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
4. ``extract:<network>:<split>``: traces of ``qdsnn`` (T=4, INT8),
   ``dynamic_ann`` and ``snn`` (T=32, FP32) on ``train`` (the hold-out images,
   never seen in training) and ``test`` -> ``<out_root>/<backbone>/<network>/``.
   Its inputs include a hash of the extraction code
   (:func:`sparq_gym.traces.extract.code_sha256`): changed counters re-extract.
5. ``ship``: copy the INT8 weights to ``<out_root>/<backbone>/weights/`` and
   write ``<out_root>/<backbone>/manifest.json`` with the paper-style Table 1
   computed from the ``test`` traces, the stage records (commands, wall
   times, inputs, outputs) and the size and sha256 of every shipped file.

Table 1 rows (all on ``test``): ``ANN`` (final head of the dynamic ANN, plain
network cost: MACs), ``Dynamic ANN`` (rule Cfg 0.6/0.7 on the dynamic ANN),
``SNN T=32`` (final head of the FP32 SNN, plain network cost; when its
extraction was limited to a subset of the images, a row ``ANN on the SNN's
images`` follows, and the Markdown names every row's image count), ``QSNN T=4``
(final head of the INT8 network, plain network cost: what an environment
gives for a policy that always continues), ``QDSNN Cfg 0.2/0.4`` and
``QDSNN Cfg 0.6/0.7`` (exit at exit 1 if its max-softmax >= theta1, else at
exit 2 if >= theta2, else final). ``ops`` is MACs for the ANN rows and
synaptic ops (accumulates) for the spiking rows, as in the paper; every
counter's mean is given too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.io import atomic_write_bytes, atomic_write_json, read_json, sha256_file
from sparq_gym.paths import NETWORKS
from sparq_gym.traces import TraceSet

__all__ = [
    "LIMIT_SELECTION",
    "PIPELINE_STAGES",
    "PipelineConfig",
    "limited_selection",
    "policy_row",
    "run_pipeline",
    "same_images",
    "table1",
    "threshold_exits",
]

PIPELINE_STAGES: tuple[str, ...] = ("train", "convert", "qat", "extract", "ship")
"""Stage names in order (``extract`` has one sub-stage per network and split)."""

STATE_NAME = "pipeline_state.json"
FP32_STEM = "snn_fp32"
INT8_STEM = "qsnn_int8"
TRACE_SPLITS: dict[str, str] = {"train": "holdout", "test": "test"}
"""Trace split -> dataset split it is extracted from."""


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
    :param networks: variants to extract (default all of :data:`sparq_gym.paths.NETWORKS`).
    :param force: re-run every stage even when its records are up to date.
    :param progress: show progress bars.
    :param command: the command line that started the run (recorded).
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
    networks: tuple[str, ...] = NETWORKS
    force: bool = False
    progress: bool = True
    command: str = ""

    def work_path(self) -> Path:
        """The work directory as a path."""
        return Path(self.work_dir) if self.work_dir else Path("runs") / self.backbone

    def out_path(self) -> Path:
        """``<out_root>/<backbone>``."""
        if self.out_root:
            return Path(self.out_root) / self.backbone
        from sparq_gym.paths import pretrained_root

        return pretrained_root() / self.backbone


# --------------------------------------------------------------------------- policies and table


LIMIT_SELECTION = "seeded permutation (seed 0), first `limit`, ascending"
"""How a limited extraction picks its images (recorded in the stage inputs and trace manifests)."""


def limited_selection(n_total: int, limit: int | None, seed: int = 0) -> NDArray[np.int64]:
    """Positions of the images an extraction takes from a split of ``n_total``.

    All of them without ``limit``; else ``limit`` positions drawn by a seeded
    permutation, in ascending order. Not the first ``limit``: a split may be
    sorted by label (the offline CIFAR-10 copy's test batch is), and its first
    images would then be one or two classes.
    """
    if limit is None or limit >= n_total:
        return np.arange(n_total, dtype=np.int64)
    if limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:limit]).astype(np.int64)


def threshold_exits(confidence: NDArray[np.floating[Any]], thresholds: Sequence[float]) -> NDArray[np.int64]:
    """Exit taken per sample by the rule "first early exit ``k`` whose confidence >= ``thresholds[k]``".

    ``confidence`` is ``(N, E)`` (max-softmax per exit); ``thresholds`` has one
    entry per early exit (at most ``E - 1``); samples that pass none take the
    final exit ``E - 1``. Returns int64 ``(N,)``.
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


def policy_row(traces: TraceSet, label: str, exits: NDArray[np.int64] | None,
               ops_counter: str) -> dict[str, Any]:
    """One Table-1 row: accuracy (%) and mean counters of a policy on ``traces``.

    ``exits`` gives the exit taken per sample; ``None`` means the plain
    network (final head, cost of the network without exit heads). ``ops`` is
    the mean of ``ops_counter`` (``"macs"`` for ANNs, ``"synaptic_ops"`` for
    SNNs); ``total_ops`` is the environments' default cost
    (:mod:`sparq_gym.envs.costs`): ``synaptic_ops + lif_ops``, or ``macs``
    for an ANN.
    """
    n = traces.n_samples
    correct, counts, fractions = traces.path_outcome(exits)
    means = {name: float(counts[:, k].mean()) for k, name in enumerate(traces.counter_names)}
    spiking_ops = means["synaptic_ops"] + means["lif_ops"]
    return {
        "variant": label,
        "network": traces.meta.get("network"),
        "accuracy": round(100.0 * float(correct.mean()), 3),
        "ops": means[ops_counter],
        "ops_counter": ops_counter,
        "total_ops": spiking_ops if spiking_ops > 0 else means["macs"],
        "counters_mean": means,
        "exit_fractions": fractions,
        "n_samples": n,
    }


def table1(traces: dict[str, TraceSet], qsnn_timesteps: int = 4,
           snn_timesteps: int = 32) -> list[dict[str, Any]]:
    """The paper-style Table 1 from the ``test`` traces of ``dynamic_ann``, ``snn`` and ``qdsnn``.

    Rows whose variant is missing from ``traces`` are left out. See the module
    docstring for the meaning of each row.
    """
    rows: list[dict[str, Any]] = []
    if "dynamic_ann" in traces:
        ann = traces["dynamic_ann"]
        rows.append(policy_row(ann, "ANN", None, "macs"))
        rows.append(policy_row(ann, "Dynamic ANN Cfg 0.6/0.7",
                               threshold_exits(ann.confidence(), (0.6, 0.7)), "macs"))
    if "snn" in traces:
        snn = traces["snn"]
        rows.append(policy_row(snn, f"SNN T={snn_timesteps}", None, "synaptic_ops"))
        if "dynamic_ann" in traces and snn.n_samples < traces["dynamic_ann"].n_samples:
            # a limited SNN extraction covers a subset only: give the ANN on the same images
            rows.append(policy_row(same_images(traces["dynamic_ann"], snn),
                                   "ANN on the SNN's images", None, "macs"))
    if "qdsnn" in traces:
        q = traces["qdsnn"]
        rows.append(policy_row(q, f"QSNN T={qsnn_timesteps}", None, "synaptic_ops"))
        for cfg in ((0.2, 0.4), (0.6, 0.7)):
            rows.append(policy_row(q, f"QDSNN Cfg {cfg[0]}/{cfg[1]}",
                                   threshold_exits(q.confidence(), cfg), "synaptic_ops"))
    return rows


def same_images(traces: TraceSet, like: TraceSet) -> TraceSet:
    """The samples of ``traces`` whose ``sample_ids`` are those of ``like``, in its order."""
    position = {int(s): i for i, s in enumerate(traces.sample_ids)}
    missing = [int(s) for s in like.sample_ids if int(s) not in position]
    if missing:
        raise ValueError(f"{len(missing)} sample ids of the limited traces are not in the full ones "
                         f"(first: {missing[:5]})")
    return traces.subset(np.array([position[int(s)] for s in like.sample_ids], dtype=np.int64))


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


def _stage_seconds(record: dict[str, Any]) -> float:
    """Wall seconds of a stage; for a given (pre-trained) ANN, its recorded training time
    (with the runs it continued, for a warm restart)."""
    metrics = (record.get("details") or {}).get("metrics") or {}
    return float(metrics.get("total_train_seconds_with_parents")
                 or metrics.get("total_train_seconds") or record["seconds"])


# --------------------------------------------------------------------------- stage records


class _State:
    """The stage records in ``<work_dir>/pipeline_state.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = read_json(path) if path.exists() else {"stages": {}}

    def up_to_date(self, stage: str, inputs: dict[str, Any]) -> bool:
        record = self.data["stages"].get(stage)
        if record is None or record.get("inputs") != inputs:
            return False
        for name, digest in record.get("outputs", {}).items():
            path = Path(name)
            if not path.exists() or sha256_file(path) != digest:
                return False
        return True

    def record(self, stage: str, inputs: dict[str, Any], outputs: Sequence[Path], seconds: float,
               command: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = {
            "inputs": inputs,
            "outputs": {str(p): sha256_file(p) for p in outputs},
            "seconds": round(seconds, 2),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "details": details or {},
        }
        self.data["stages"][stage] = entry
        atomic_write_json(self.path, self.data)
        return entry

    def get(self, stage: str) -> dict[str, Any]:
        return self.data["stages"][stage]


def _log(message: str) -> None:
    print(f"[pipeline] {message}", flush=True)


# --------------------------------------------------------------------------- the run


class _Run:
    """One pipeline run: lazily loaded data and networks shared by the stages."""

    def __init__(self, config: PipelineConfig) -> None:
        from sparq_gym.backbones.spec import get_spec

        self.config = config
        self.spec = get_spec(config.backbone)
        self.work = config.work_path().resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.out = config.out_path().resolve()
        self.state = _State(self.work / STATE_NAME)
        self._splits: dict[str, Any] = {}
        self._ann_state: dict[str, Any] | None = None
        self.ann_path: Path | None = None

    # ---- helpers
    def _skip(self, stage: str, inputs: dict[str, Any]) -> bool:
        if not self.config.force and self.state.up_to_date(stage, inputs):
            _log(f"{stage}: up to date, skipped")
            return True
        _log(f"{stage}: running")
        return False

    def ann_state(self) -> dict[str, Any]:
        import torch

        assert self.ann_path is not None
        if self._ann_state is None:
            self._ann_state = torch.load(self.ann_path, map_location="cpu", weights_only=False)
        return self._ann_state

    def holdout_args(self) -> dict[str, int]:
        config = self.ann_state()["config"]
        return {"holdout_size": int(config.get("holdout_size", 5000)),
                "holdout_seed": int(config.get("holdout_seed", 0))}

    def split(self, dataset_split: str) -> Any:
        from sparq_gym.data import load_split

        if dataset_split not in self._splits:
            self._splits[dataset_split] = load_split(self.spec.dataset, dataset_split,
                                                     self.config.data_root, **self.holdout_args())
        return self._splits[dataset_split]

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        from sparq_gym.data import DATASETS

        info = DATASETS[self.spec.dataset]
        return tuple(info.mean), tuple(info.std)

    # ---- stages
    def stage_train(self) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        if cfg.ann:
            path = Path(cfg.ann)
            if not path.exists():
                raise FileNotFoundError(f"{path}: trained ANN not found (--ann)")
            how = "given"
        else:
            path = self.work / "ann" / "model.pt"
            how = "found"
            if not path.exists():
                from sparq_gym.backbones.train import TrainConfig, train

                _log(f"train: no trained ANN at {path}; training one")
                train(TrainConfig(backbone=self.spec.name, out_dir=str(path.parent),
                                  data_root=cfg.data_root, epochs=cfg.train_epochs,
                                  progress=cfg.progress), resume=True)
                how = "trained"
        self.ann_path = path
        state = self.ann_state()
        if state["spec"]["name"] != self.spec.name:
            raise ValueError(f"{path}: trained for backbone {state['spec']['name']!r}, "
                             f"not {self.spec.name!r}")
        from sparq_gym.backbones.spec import BackboneSpec

        self.spec = BackboneSpec.from_dict(state["spec"])  # the description the ANN was trained with
        trained = state.get("config", {})
        if trained.get("epochs") and trained.get("batch_size"):  # what the run really used
            self.spec = replace(
                self.spec, epochs=int(trained["epochs"]), batch_size=int(trained["batch_size"])
            )
        metrics_path = path.parent / "metrics.json"
        details = {"ann": str(path), "how": how, "train_config": state.get("config", {}),
                   "metrics": read_json(metrics_path) if metrics_path.exists() else None}
        if details["metrics"]:
            details["metrics"] = {k: details["metrics"][k] for k in
                                  ("final", "total_train_seconds", "data", "loss_weights", "parent",
                                   "total_train_seconds_with_parents")
                                  if k in details["metrics"]}
        self.state.record("train", {"ann": str(path)}, [path], time.perf_counter() - t0,
                          cfg.command, details)

    def _check_same_images(self, trace_split: str, record: dict[str, Any]) -> None:
        """Fail if the images of a split differ from the ones the ANN run recorded.

        The ``train`` trace split must be the hold-out the ANN never trained on;
        a different numpy or seed would silently change it.
        """
        metrics = (self.state.get("train") or {}).get("details", {}).get("metrics") or {}
        recorded = (metrics.get("data") or {}).get(TRACE_SPLITS[trace_split])
        if recorded and recorded.get("indices_sha256") != record["indices_sha256"]:
            raise ValueError(
                f"the {TRACE_SPLITS[trace_split]!r} images differ from those recorded when the ANN was "
                f"trained (indices sha256 {record['indices_sha256'][:12]}... vs "
                f"{recorded.get('indices_sha256', '')[:12]}...): the trace split would not be held out"
            )

    def ann_sha(self) -> str:
        return self.state.get("train")["outputs"][str(self.ann_path)]

    def stage_convert(self) -> None:
        from sparq_gym.backbones.spiking import convert, save_weights
        from sparq_gym.backbones.train import load_trained

        inputs = {"ann_sha256": self.ann_sha()}
        if self._skip("convert", inputs):
            return
        t0 = time.perf_counter()
        mean, std = self.normalization()
        weights = convert(load_trained(self.ann_path), mean, std,  # type: ignore[arg-type]
                          provenance={"ann": str(self.ann_path), "ann_sha256": self.ann_sha()})
        config = save_weights(weights, self.work, FP32_STEM)
        outputs = [self.work / f"{FP32_STEM}.npz", self.work / f"{FP32_STEM}.json"]
        self.state.record("convert", inputs, outputs,
                          time.perf_counter() - t0, self.config.command,
                          {"thresholds": weights.thresholds, "weights_sha256": config["sha256"]})

    def stage_qat(self) -> None:
        from sparq_gym.backbones.quantize import QATConfig, export_int8, run_qat
        from sparq_gym.backbones.spiking import save_weights
        from sparq_gym.backbones.train import TrainConfig, load_train_data, load_trained

        cfg = self.config
        qat_config = QATConfig(epochs=cfg.qat_epochs, lr=cfg.qat_lr, max_steps_per_epoch=cfg.qat_max_steps,
                               progress=cfg.progress)
        inputs = {"ann_sha256": self.ann_sha(), "qat_config": asdict(qat_config),
                  "calibration_images": cfg.calibration_images, "qsnn_timesteps": cfg.qsnn_timesteps}
        if self._skip("qat", inputs):
            return
        t0 = time.perf_counter()
        network = load_trained(self.ann_path)  # type: ignore[arg-type]
        train_config = TrainConfig(backbone=self.spec.name, out_dir=str(self.work / "qat"),
                                   data_root=cfg.data_root, eval_holdout=True, **self.holdout_args())
        data = load_train_data(train_config, self.spec)
        # monitor on the hold-out only: the test split is for evaluation, never for decisions
        data.eval_sets = {"holdout": data.eval_sets["holdout"]}
        qat_dir = self.work / "qat"
        previous = self.state.data["stages"].get("qat")
        if cfg.force or (previous is not None and previous.get("inputs") != inputs):
            (qat_dir / "qat_checkpoint.pt").unlink(missing_ok=True)  # forced or new settings: start over
        qat, log = run_qat(network, qat_config, data, qat_dir, resume=True)
        mean, std = self.normalization()
        weights = export_int8(qat, mean, std, provenance={
            "ann_sha256": self.ann_sha(), "qat": log, "data": data.provenance})
        corrections: dict[str, float] = {}
        if cfg.calibration_images > 0:
            import torch

            from sparq_gym.backbones.spiking import calibrate_biases

            # training images only (first of the fit split): the hold-out and test stay unseen
            images = torch.from_numpy(data.fit_images[:cfg.calibration_images]).float() / 255.0
            x = (images - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
            weights, corrections = calibrate_biases(weights, qat, x, cfg.qsnn_timesteps)
            _log(f"qat: bias calibration on {x.shape[0]} fit images, mean |correction| per layer "
                 f"{ {k: round(v, 4) for k, v in corrections.items()} }")
        config = save_weights(weights, self.work, INT8_STEM)
        self.state.record("qat", inputs, [self.work / f"{INT8_STEM}.npz", self.work / f"{INT8_STEM}.json"],
                          time.perf_counter() - t0, cfg.command,
                          {"log": log["epochs"], "weights_sha256": config["sha256"],
                           "bias_calibration": corrections,
                           "input_scale": weights.input_scale, "input_zero_point": weights.input_zero_point})

    def network(self, variant: str) -> Any:
        """Build the network of ``variant`` from the ANN or the weights in the work directory."""
        from sparq_gym.backbones.spiking import SpikingNetwork, load_weights
        from sparq_gym.backbones.train import load_trained

        if variant == "dynamic_ann":
            return load_trained(self.ann_path)  # type: ignore[arg-type]
        if variant == "snn":
            weights = load_weights(self.work, FP32_STEM)
            return SpikingNetwork(weights, self.config.snn_timesteps)
        if variant == "qdsnn":
            weights = load_weights(self.work, INT8_STEM)
            return SpikingNetwork(weights, self.config.qsnn_timesteps)
        raise ValueError(f"network must be one of {list(NETWORKS)}, got {variant!r}")

    def stage_extract(self, variant: str, trace_split: str) -> None:
        from sparq_gym.data import split_record
        from sparq_gym.traces.extract import code_sha256, extract_traces, save_split

        cfg = self.config
        stage = f"extract:{variant}:{trace_split}"
        source_name = {"dynamic_ann": "ann", "snn": FP32_STEM, "qdsnn": INT8_STEM}[variant]
        source_sha = (self.ann_sha() if variant == "dynamic_ann"
                      else sha256_file(self.work / f"{source_name}.npz"))
        split = self.split(TRACE_SPLITS[trace_split])
        record = split_record(split)
        self._check_same_images(trace_split, record)
        timesteps = {"dynamic_ann": 1, "snn": cfg.snn_timesteps, "qdsnn": cfg.qsnn_timesteps}[variant]
        limit = cfg.snn_limit if variant == "snn" and cfg.snn_limit is not None else cfg.limit
        inputs = {"source_sha256": source_sha, "data": record["indices_sha256"],
                  "source_md5": record["source_md5"], "timesteps": timesteps, "limit": limit,
                  "selection": None if limit is None else LIMIT_SELECTION,
                  "code_sha256": code_sha256()}
        if self._skip(stage, inputs):
            return
        t0 = time.perf_counter()
        network = self.network(variant)
        take = limited_selection(len(split), limit)
        n = len(take)
        mean, std = self.normalization()
        traces = extract_traces(
            network, self.spec, variant, trace_split, split.images[take], split.labels[take],
            split.indices[take], mean, std, batch_size=cfg.batch_size, progress=cfg.progress,
            meta={"class_names": list(split.info.class_names), "command": cfg.command,
                  "source": {"weights": source_name, "sha256": source_sha,
                             "ann": str(self.ann_path), "ann_sha256": self.ann_sha()}})
        directory = self.out / variant
        archive = save_split(traces, directory, split_provenance={
            "data": record, "source_sha256": source_sha, "limit": limit,
            "selection": None if limit is None else LIMIT_SELECTION,
            "seconds": round(time.perf_counter() - t0, 2), "command": cfg.command})
        accuracy = traces.accuracy_per_exit()
        _log(f"{stage}: {n} samples, accuracy per exit {[round(100 * a, 2) for a in accuracy]}, "
             f"{time.perf_counter() - t0:.1f} s")
        self.state.record(stage, inputs, [archive], time.perf_counter() - t0, cfg.command,
                          {"n_samples": n, "accuracy_per_exit": accuracy})

    def stage_ship(self) -> dict[str, Any]:
        cfg = self.config
        t0 = time.perf_counter()
        weights_dir = self.out / "weights"
        shipped: list[Path] = []
        for suffix in ("npz", "json"):
            source = self.work / f"{INT8_STEM}.{suffix}"
            target = weights_dir / source.name
            if not target.exists() or sha256_file(target) != sha256_file(source):
                atomic_write_bytes(target, source.read_bytes())
            shipped.append(target)
        test_traces = {}
        for variant in cfg.networks:
            directory = self.out / variant
            if (directory / "manifest.json").exists():
                test_traces[variant] = TraceSet.load(directory, "test")
        rows = table1(test_traces, cfg.qsnn_timesteps, cfg.snn_timesteps)
        by_name = {r["variant"]: r for r in rows}
        qsnn = by_name.get(f"QSNN T={cfg.qsnn_timesteps}")
        best = by_name.get("QDSNN Cfg 0.6/0.7")
        summary: dict[str, Any] = {}
        if qsnn and best:
            summary = {
                "qsnn_accuracy": qsnn["accuracy"],
                "qdsnn_0.6/0.7_accuracy": best["accuracy"],
                "qdsnn_0.6/0.7_synaptic_ops_over_qsnn": best["counters_mean"]["synaptic_ops"]
                / max(qsnn["counters_mean"]["synaptic_ops"], 1e-12),
            }
        for variant in test_traces:
            for name in ("manifest.json", "train.npz", "test.npz"):
                if (self.out / variant / name).exists():
                    shipped.append(self.out / variant / name)
        files = {str(p.relative_to(self.out)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
                 for p in shipped}
        stages = self.state.data["stages"]
        manifest = {
            "backbone": self.spec.name,
            "dataset": self.spec.dataset,
            "table1": {"split": "test", "rows": rows, "markdown": table1_markdown(rows)},
            "summary": summary,
            "networks": {v: f"{v}/" for v in test_traces},
            "weights": {"int8": f"weights/{INT8_STEM}.npz", "config": f"weights/{INT8_STEM}.json"},
            "files": files,
            "stages": {name: {k: v for k, v in rec.items() if k != "outputs"}
                       for name, rec in stages.items()},
            "wall_seconds": {name: _stage_seconds(rec) for name, rec in stages.items()},
            "pipeline_config": asdict(cfg),
            "commands": sorted({rec["command"] for rec in stages.values() if rec.get("command")}),
            "backbone_config": self.spec.to_dict(),
        }
        from sparq_gym.traces.extract import software_versions

        manifest["software"] = software_versions()
        manifest["wall_seconds"]["ship"] = round(time.perf_counter() - t0, 2)
        atomic_write_json(self.out / "manifest.json", manifest)
        _log("ship: wrote " + str(self.out / "manifest.json"))
        print(table1_markdown(rows), flush=True)
        return manifest


def run_pipeline(config: PipelineConfig, stages: Sequence[str] = PIPELINE_STAGES) -> dict[str, Any]:
    """Run the named stages of the pipeline for one backbone (see the module docstring).

    ``train`` always runs first (it only locates or trains the ANN). Returns
    the shipped manifest when ``ship`` ran, else the stage records.
    """
    unknown = [s for s in stages if s not in PIPELINE_STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; expected some of {list(PIPELINE_STAGES)}")
    bad = [n for n in config.networks if n not in NETWORKS]
    if bad:
        raise ValueError(f"unknown networks {bad}; expected some of {list(NETWORKS)}")
    run = _Run(config)
    run.stage_train()
    needs_fp32 = "snn" in config.networks
    needs_int8 = "qdsnn" in config.networks
    if "convert" in stages or ("extract" in stages and needs_fp32
                               and not (run.work / f"{FP32_STEM}.npz").exists()):
        run.stage_convert()
    if "qat" in stages or ("extract" in stages and needs_int8
                           and not (run.work / f"{INT8_STEM}.npz").exists()):
        run.stage_qat()
    if "extract" in stages:
        for variant in config.networks:
            for trace_split in TRACE_SPLITS:
                run.stage_extract(variant, trace_split)
    if "ship" in stages:
        return run.stage_ship()
    return run.state.data

