"""Training of the conversion-ready (clip-floor-shift) dynamic ANN.

Recipe (paper §2 plus what the conversion needs): Adam (lr 1e-3), cosine
annealing of the learning rate over all steps, mixup with ``alpha = 0.2``, all
exit heads trained jointly with the backbone. The loss is the weighted sum of
the heads' mixup cross-entropies, weights ``spec.loss_weights`` (0.3 for each
early exit, 1.0 for the final head: the early heads shape the shared features
without pulling the final accuracy down much). Augmentation is done with torch
ops on uint8 batches: random crop from a zero-padded image (``spec.augment_pad``)
and, for CIFAR-10, horizontal flips. Training uses the ``fit`` split (the
hold-out is excluded); accuracy per exit is measured each epoch on ``test`` and
``holdout``.

Continuing a finished run (``init_from``): a new cosine cycle from ``lr`` to 0
over ``epochs`` (a warm restart), either of the whole network or, with
``heads_only``, of the early-exit heads alone on the frozen backbone (the final
head's predictions do not change). ``distill`` adds self-distillation from the
final head into the early heads. The parent run is recorded in ``metrics.json``
and its training time is counted in ``total_train_seconds_with_parents``.

Precision: bf16 autocast is supported (``TrainConfig.bf16``) but off by default:
on this project's 2-core CPU (AVX-512-BF16, no AMX) it is slower than float32
(AlexNet, batch 128: 77 img/s bf16 vs 116 img/s fp32 with ReLU; 61 vs 85 img/s
with the clip-floor-shift activation at batch 256). Channels-last memory format
is faster for the convolutional backbones (132 vs 87 img/s) and is used for them.

The epochs themselves (schedule, batches, mixup loss, evaluation, checkpoint
and resume) run in :class:`~sparq_gym.backbones.loop.EpochLoop`, which INT8 QAT
shares.

Outputs in ``out_dir``: ``checkpoint.pt`` (model, optimizer, scheduler, config,
spec, epoch, RNG states, log; rewritten atomically after every epoch),
``log.jsonl`` (one JSON object per epoch), and at the end ``model.pt`` (weights,
spec, config) and ``metrics.json`` (final accuracies per exit and data provenance).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from sparq_gym.backbones.loop import (
    EpochLoop,
    LoopSettings,
    TrainData,
    augment_batch,
    count_steps,
    evaluate,
    mixup_batch,
)
from sparq_gym.backbones.model import ExitNetwork, build_network
from sparq_gym.backbones.spec import BackboneSpec, get_spec
from sparq_gym.io import atomic_path, atomic_write_json, atomic_write_text, sha256_file

__all__ = [
    "TrainConfig",
    "TrainData",
    "augment_batch",
    "evaluate",
    "load_train_data",
    "load_trained",
    "mixup_batch",
    "train",
]

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"
MODEL_NAME = "model.pt"
METRICS_NAME = "metrics.json"


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint).

    :param backbone: registered backbone name.
    :param out_dir: run directory (checkpoint, log, final model).
    :param data_root: dataset root (None: :func:`sparq_gym.data.data_root` default).
    :param epochs: number of epochs (None: the backbone's default); the cosine
        schedule spans all of them, so a resumed run must keep the same value.
    :param batch_size: training batch size (None: the backbone's default).
    :param lr: Adam learning rate (paper: 1e-3).
    :param mixup_alpha: Beta(alpha, alpha) parameter of mixup (paper: 0.2); 0 disables it.
    :param seed: seeds the weight initialization, shuffling, augmentation and mixup.
    :param bf16: train under bf16 autocast (slower on CPUs without AMX; see module doc).
    :param eval_batch_size: batch size of the evaluation passes.
    :param eval_holdout: also measure accuracy on the hold-out split each epoch.
    :param max_steps_per_epoch: cap on optimizer steps per epoch (smoke tests).
    :param holdout_size: size of the hold-out cut from the training set.
    :param holdout_seed: seed of the hold-out choice.
    :param progress: show a tqdm progress bar.
    :param stop_after: stop (with a checkpoint) once this epoch is done, without
        changing the schedule; a later ``resume`` continues (time-boxed runs).
    :param dataset: train on another dataset of the same shape (e.g. ``"fashion-mnist"``
        for the MNIST backbones); ``None``: the backbone's own.
    :param init_from: start from the weights of a finished run's ``model.pt`` instead of
        a fresh initialization: a further cosine cycle from ``lr`` down to 0 (a warm
        restart, Loshchilov & Hutter 2017) with a new optimizer. The parent run is
        recorded in ``metrics.json``; its spec (architecture, dataset) is kept.
    :param heads_only: train only the early-exit heads (needs ``init_from``): the
        backbone, its activation clips and BatchNorm statistics stay frozen, so
        the final head's predictions do not change.
    :param distill: weight ``beta`` of self-distillation for the early heads: each
        early head's loss is ``(1 - beta)`` x its mixup cross-entropy plus ``beta``
        x ``tau^2`` x KL(final head || early head) at temperature ``tau``, the
        final head's (detached) output being the teacher (Phuong & Lampert 2019,
        distillation for multi-exit networks). 0 disables it.
    :param distill_temperature: ``tau`` of the distillation term.
    :param verify: check the dataset files' md5 (``--no-verify``: skip; trusted copies only).
    """

    backbone: str
    out_dir: str
    data_root: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float = 1e-3
    mixup_alpha: float = 0.2
    seed: int = 0
    bf16: bool = False
    eval_batch_size: int = 500
    eval_holdout: bool = True
    max_steps_per_epoch: int | None = None
    holdout_size: int = 5000
    holdout_seed: int = 0
    progress: bool = True
    stop_after: int | None = None
    dataset: str | None = None
    init_from: str | None = None
    heads_only: bool = False
    distill: float = 0.0
    distill_temperature: float = 1.0
    verify: bool = True


def load_train_data(config: TrainConfig, spec: BackboneSpec) -> TrainData:
    """Load the ``fit`` split and the evaluation splits of ``spec.dataset`` via :mod:`sparq_gym.data`."""
    from sparq_gym.data import load_split, split_record

    kwargs = {"holdout_size": config.holdout_size, "holdout_seed": config.holdout_seed,
              "verify": config.verify}
    fit = load_split(spec.dataset, "fit", config.data_root, **kwargs)
    names = ["test", "holdout"] if config.eval_holdout else ["test"]
    evals = {name: load_split(spec.dataset, name, config.data_root, **kwargs) for name in names}
    return TrainData(
        fit_images=fit.images,
        fit_labels=fit.labels,
        eval_sets={name: (s.images, s.labels) for name, s in evals.items()},
        mean=tuple(fit.info.mean),
        std=tuple(fit.info.std),
        provenance={"fit": split_record(fit), **{n: split_record(s) for n, s in evals.items()}},
    )


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def train(config: TrainConfig, data: TrainData | None = None, resume: bool = False) -> dict[str, Any]:
    """Train (or resume) the dynamic ANN described by ``config``; return the final metrics.

    ``data`` defaults to :func:`load_train_data`. With ``resume`` and a
    ``checkpoint.pt`` in ``config.out_dir``, model, optimizer, scheduler, RNG
    states, epoch counter and log are restored and training continues with the
    next epoch, so an interrupted run ends in the same state as an uninterrupted
    one. The checkpoint's configuration wins over ``config`` except for
    ``out_dir``, ``data_root``, ``progress``, ``stop_after`` and ``epochs`` (a
    different value changes the cosine schedule from that point on). Returns the
    contents of ``metrics.json``, or, when ``stop_after`` ends the run early,
    ``{"stopped_after": epoch, "log": [...]}``.
    """
    config, spec, checkpoint, parent = _prepare_run(config, resume)
    if data is None:
        data = load_train_data(config, spec)
    batch_size = spec.batch_size  # the run's own, filled in by _prepare_run
    steps_per_epoch = count_steps(len(data.fit_labels), batch_size, config.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"need at least one batch of {batch_size} images, got {len(data.fit_labels)}")

    network = build_network(spec, seed=config.seed)
    if spec.channels_last:
        network = network.to(memory_format=torch.channels_last)
    if parent is not None and parent["model"] is not None:
        network.load_state_dict(parent["model"])
    frozen: tuple[torch.nn.Module, ...] = ()
    if config.heads_only:  # frozen backbone: no gradients, and its BatchNorm statistics kept too
        frozen = (network.blocks, network.activations)
        for module in frozen:
            module.requires_grad_(False)
    settings = LoopSettings(
        epochs=spec.epochs, batch_size=batch_size, steps_per_epoch=steps_per_epoch, lr=config.lr,
        mixup_alpha=config.mixup_alpha, seed=config.seed, progress=config.progress, bf16=config.bf16,
        eval_batch_size=config.eval_batch_size, distill=config.distill,
        distill_temperature=config.distill_temperature, train_final=not config.heads_only,
    )
    loop = EpochLoop(network, [p for p in network.parameters() if p.requires_grad], data, settings,
                     frozen=frozen)
    if checkpoint is not None:
        loop.restore(checkpoint)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"config": asdict(config), "spec": spec.to_dict(),
             "parent": None if parent is None else parent["record"]}
    stopped = loop.run(out / CHECKPOINT_NAME, extra, lambda log: _write_log(out / LOG_NAME, log),
                       config.stop_after)
    if stopped is not None:
        return {"stopped_after": stopped, "log": loop.log}
    return _finish(network, config, spec, data, loop.log, parent)


def _prepare_run(config: TrainConfig, resume: bool) -> tuple[TrainConfig, BackboneSpec,
                                                              dict[str, Any] | None,
                                                              dict[str, Any] | None]:
    """The run's final configuration and spec, its checkpoint (when resumed) and its parent.

    Reads ``checkpoint.pt`` when ``resume`` finds one (its configuration wins
    but for the fields :func:`train` lists), loads the parent run of a warm
    restart, checks the options that go together and fills in the backbone's
    default epochs and batch size.
    """
    ckpt_path = Path(config.out_dir) / CHECKPOINT_NAME
    checkpoint: dict[str, Any] | None = None
    if resume and ckpt_path.exists():
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        saved = TrainConfig(**checkpoint["config"])
        if saved.backbone != config.backbone:
            raise ValueError(
                f"{ckpt_path}: a {saved.backbone!r} run, not {config.backbone!r}; "
                "use another --out to start anew"
            )
        epochs = config.epochs if config.epochs is not None else saved.epochs
        config = TrainConfig(**{**asdict(saved), "out_dir": config.out_dir,
                                "data_root": config.data_root, "progress": config.progress,
                                "stop_after": config.stop_after, "epochs": epochs, "verify": config.verify})
        spec = BackboneSpec.from_dict(checkpoint["spec"])
    else:
        spec = get_spec(config.backbone)
        if config.dataset is not None:  # any IDX dataset of the same shape (Fashion-MNIST, ...)
            spec = replace(spec, dataset=config.dataset)
    if config.heads_only and config.init_from is None:
        raise ValueError("heads_only trains the exit heads of a trained network: give init_from")
    if not 0.0 <= config.distill <= 1.0 or config.distill_temperature <= 0:
        raise ValueError(f"distill must lie in [0, 1] and distill_temperature be > 0, got "
                         f"{config.distill} and {config.distill_temperature}")
    parent: dict[str, Any] | None = None
    if config.init_from is not None:
        if checkpoint is not None and checkpoint.get("parent") is not None:
            # resuming: the weights are in the checkpoint, the parent's record too
            parent = {"model": None, "spec": checkpoint["spec"], "record": checkpoint["parent"]}
        else:
            parent = _load_parent(config)
            config = replace(config, init_from=parent["record"]["model"])
        if config.dataset is not None and config.dataset != parent["spec"]["dataset"]:
            raise ValueError(f"--dataset {config.dataset!r} differs from the parent run's "
                             f"{parent['spec']['dataset']!r}: a warm restart keeps its dataset")
        spec = BackboneSpec.from_dict(parent["spec"])
    epochs = config.epochs if config.epochs is not None else spec.epochs
    batch_size = config.batch_size if config.batch_size is not None else spec.batch_size
    config = TrainConfig(**{**asdict(config), "epochs": epochs, "batch_size": batch_size})
    spec = replace(spec, epochs=epochs, batch_size=batch_size)  # the description records this run
    return config, spec, checkpoint, parent


def _finish(network: ExitNetwork, config: TrainConfig, spec: BackboneSpec, data: TrainData,
            log: list[dict[str, Any]], parent: dict[str, Any] | None) -> dict[str, Any]:
    """Write ``model.pt`` and ``metrics.json`` of a finished run; return the metrics."""
    out = Path(config.out_dir)
    with atomic_path(out / MODEL_NAME) as tmp:
        torch.save({"model": network.state_dict(), "spec": spec.to_dict(),
                    "config": asdict(config)}, tmp)
    last = log[-1] if log else {}
    metrics = {
        "backbone": spec.name,
        "epochs": config.epochs,
        "exit_names": list(spec.exit_names),
        "final": {k: v for k, v in last.items() if k.endswith("accuracy")},
        "total_train_seconds": round(sum(r["train_seconds"] + r["eval_seconds"] for r in log), 1),
        "config": asdict(config),
        "spec": spec.to_dict(),
        "data": data.provenance,
        "loss_weights": list(spec.loss_weights),
    }
    if parent is not None:
        metrics["parent"] = parent["record"]
        metrics["total_train_seconds_with_parents"] = round(
            metrics["total_train_seconds"] + parent["record"]["total_train_seconds_with_parents"], 1)
    atomic_write_json(out / METRICS_NAME, metrics)
    return metrics


def _load_parent(config: TrainConfig) -> dict[str, Any]:
    """Weights, spec and a provenance record of the run ``config.init_from`` continues."""
    path = Path(str(config.init_from)).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"--init-from: expected a model.pt written by a training run, "
                                f"no file at {path}")
    if path.parent == Path(config.out_dir).resolve():
        raise ValueError(f"--init-from {path} lies in the output directory {config.out_dir}: "
                         "give the warm restart its own --out")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state or "spec" not in state:
        raise ValueError(f"--init-from {path}: expected a model.pt written by a training run "
                         "(keys 'model' and 'spec')")
    if state["spec"]["name"] != config.backbone:
        raise ValueError(f"--init-from {path}: a {state['spec']['name']!r} model, "
                         f"not {config.backbone!r}")
    metrics_path = path.parent / METRICS_NAME
    if not metrics_path.is_file():
        raise FileNotFoundError(f"--init-from {path}: expected the model.pt of a finished run, with "
                                f"its {METRICS_NAME} beside it (the parent's record)")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    own = float(metrics["total_train_seconds"])
    record = {
        "model": str(path),
        "model_sha256": sha256_file(path),
        "epochs": metrics.get("epochs"),
        "final": metrics.get("final"),
        "config": metrics.get("config"),
        "total_train_seconds_with_parents": float(
            metrics.get("total_train_seconds_with_parents", own)),
    }
    return {"model": state["model"], "spec": state["spec"], "record": record}


def load_trained(path: str | Path) -> ExitNetwork:
    """Load a network from a ``model.pt`` or ``checkpoint.pt`` written by :func:`train` (eval mode)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=False)
    spec = BackboneSpec.from_dict(state["spec"])
    network = ExitNetwork(spec)
    network.load_state_dict(state["model"])
    return network.eval()

