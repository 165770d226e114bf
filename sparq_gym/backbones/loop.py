"""The training loop that ANN training and INT8 QAT share.

:func:`sparq_gym.backbones.train.train` (the clip-floor-shift ANN) and
:func:`sparq_gym.backbones.quantize.run_qat` (its fake-quantized copy) both run
an :class:`EpochLoop`: Adam over the parameters they choose, the learning rate
annealed by half a cosine from ``lr`` to 0 over all steps
(:func:`cosine_factor`), and per step a batch of the shuffled ``fit`` images,
augmented (:func:`augment_batch`), normalized, mixed (:func:`mixup_batch`) and
scored with the weighted mixup loss of every exit (:func:`mixup_loss`). After
every epoch each exit's accuracy on the evaluation splits is measured
(:func:`evaluate`), a row is appended to the log and a checkpoint (model,
optimizer, scheduler, RNG states, epoch, log and the caller's own entries) is
written atomically, so a run resumed from it (:meth:`EpochLoop.restore`) ends
in the same state as an uninterrupted one. All random draws (shuffling,
augmentation, mixup) come from the loop's own seeded generators, never from
the global RNG.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from sparq_gym.backbones.model import ExitNetwork
from sparq_gym.data import normalize_pixels
from sparq_gym.io import atomic_path

__all__ = [
    "EpochLoop",
    "LoopSettings",
    "TrainData",
    "augment_batch",
    "cosine_factor",
    "count_steps",
    "evaluate",
    "mixup_batch",
    "mixup_loss",
]


@dataclass
class TrainData:
    """Arrays a run trains and evaluates on.

    :param fit_images: uint8 ``(N, C, H, W)`` training images.
    :param fit_labels: int64 ``(N,)`` training labels.
    :param eval_sets: split name -> (uint8 images, int64 labels) measured each epoch.
    :param mean: per-channel mean of pixels scaled to [0, 1].
    :param std: per-channel standard deviation of the same.
    :param provenance: JSON-able description of where the arrays came from.
    """

    fit_images: NDArray[np.uint8]
    fit_labels: NDArray[np.int64]
    eval_sets: dict[str, tuple[NDArray[np.uint8], NDArray[np.int64]]]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    provenance: dict[str, Any] = field(default_factory=dict)


def augment_batch(images: Tensor, pad: int, flip: bool, generator: torch.Generator) -> Tensor:
    """Random crop from a zero-padded copy and optional horizontal flip of a uint8 batch.

    ``images`` is ``(N, C, H, W)``; every image gets its own crop offset in
    ``0..2*pad`` on each axis and, when ``flip``, a flip with probability 1/2,
    all drawn from ``generator``. Returns a new ``(N, C, H, W)`` tensor of the
    same dtype.
    """
    n, _, h, w = images.shape
    out = images
    if pad > 0:
        padded = F.pad(images, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        batch = torch.arange(n)[:, None, None, None]
        chans = torch.arange(images.shape[1])[None, :, None, None]
        out = padded[batch, chans, rows, cols]
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out


def mixup_batch(x: Tensor, alpha: float, rng: np.random.Generator,
                generator: torch.Generator) -> tuple[Tensor, Tensor, float]:
    """Mix each sample with a random partner: ``lam * x + (1 - lam) * x[perm]``.

    ``lam ~ Beta(alpha, alpha)`` from ``rng`` (one per batch), ``perm`` from
    ``generator``. Returns the mixed batch, ``perm`` and ``lam``; with
    ``alpha <= 0`` the batch is returned unchanged with ``lam = 1``.
    """
    if alpha <= 0:
        return x, torch.arange(x.shape[0]), 1.0
    lam = float(rng.beta(alpha, alpha))
    perm = torch.randperm(x.shape[0], generator=generator)
    return lam * x + (1.0 - lam) * x[perm], perm, lam


def mixup_loss(outputs: list[Tensor], y: Tensor, y_mixed: Tensor, lam: float,
               weights: tuple[float, ...], distill: float = 0.0, temperature: float = 1.0,
               train_final: bool = True) -> Tensor:
    """Weighted sum over the exits of the mixup cross-entropy (+ self-distillation for early exits).

    Each exit's term is ``lam * CE(logits, y) + (1 - lam) * CE(logits, y_mixed)``
    (the convex combination of the two labels' cross-entropies), times its
    weight in ``weights`` (final exit last). With ``distill = beta > 0`` an early
    exit's term becomes ``(1 - beta) * term + beta * tau^2 * KL(final || exit)``
    at temperature ``tau = temperature``, the final exit's detached output being
    the teacher. ``train_final = False`` leaves the final exit out (a frozen
    backbone has nothing to learn there). Returns a scalar float32 tensor.
    """
    final = outputs[-1].float()
    tau = temperature
    teacher = F.log_softmax(final.detach() / tau, dim=1) if distill > 0 else None
    loss = final.new_zeros(())
    for k, (w, logits) in enumerate(zip(weights, outputs, strict=True)):
        is_final = k == len(outputs) - 1
        if is_final and not train_final:
            continue  # frozen: nothing to learn
        logits = logits.float()
        # mixup loss: the convex combination of the two labels' cross-entropies
        term = lam * F.cross_entropy(logits, y) + (1.0 - lam) * F.cross_entropy(logits, y_mixed)
        if teacher is not None and not is_final:
            kl = F.kl_div(F.log_softmax(logits / tau, dim=1), teacher, log_target=True,
                          reduction="batchmean")
            term = (1.0 - distill) * term + distill * tau * tau * kl
        loss = loss + w * term
    return loss


def _normalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...],
               channels_last: bool) -> Tensor:
    """Normalized float32 pixels of a uint8 batch, in channels-last memory format when asked."""
    x = normalize_pixels(images, mean, std)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def evaluate(network: ExitNetwork, images: NDArray[np.uint8], labels: NDArray[np.int64],
             mean: tuple[float, ...], std: tuple[float, ...], batch_size: int = 500,
             channels_last: bool = False) -> list[float]:
    """Accuracy (%) of every exit of ``network`` (eval mode) on uint8 ``images``."""
    was_training = network.training
    network.eval()
    correct = np.zeros(network.spec.n_exits, dtype=np.int64)
    for start in range(0, len(labels), batch_size):
        x = _normalize(torch.from_numpy(images[start:start + batch_size]), mean, std, channels_last)
        y = torch.from_numpy(labels[start:start + batch_size])
        for k, logits in enumerate(network(x)):
            correct[k] += int((logits.argmax(1) == y).sum())
    network.train(was_training)
    return [100.0 * c / max(len(labels), 1) for c in correct]


def cosine_factor(total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate at a step: half a cosine from 1 to 0 over the run."""

    def factor(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))

    return factor


def count_steps(n_images: int, batch_size: int, max_steps: int | None) -> int:
    """Optimizer steps per epoch: the full batches in ``n_images``, capped at ``max_steps``."""
    steps = n_images // batch_size
    return steps if max_steps is None else min(steps, max_steps)


_THROUGHPUT_KEYS = ("lr_end", "train_images_per_second", "eval_seconds")
"""Log entries written only with :attr:`LoopSettings.log_throughput`."""


@dataclass
class LoopSettings:
    """How an :class:`EpochLoop` trains and what it logs.

    :param epochs: number of epochs; the cosine schedule spans all of them.
    :param batch_size: images per step.
    :param steps_per_epoch: optimizer steps per epoch (:func:`count_steps`).
    :param lr: Adam learning rate at the start of the cosine schedule.
    :param mixup_alpha: Beta(alpha, alpha) parameter of mixup; 0 disables it.
    :param seed: seeds the shuffling, augmentation and mixup generators.
    :param progress: show a tqdm progress bar.
    :param bf16: run the forward pass under bf16 autocast.
    :param eval_batch_size: batch size of the evaluation passes.
    :param distill: self-distillation weight of :func:`mixup_loss`.
    :param distill_temperature: its temperature.
    :param train_final: include the final exit in the loss.
    :param label: what an epoch is called in messages (``"epoch"``, ``"QAT epoch"``).
    :param log_throughput: also log ``lr_end``, ``train_images_per_second`` and
        ``eval_seconds`` per epoch and print the throughput.
    """

    epochs: int
    batch_size: int
    steps_per_epoch: int
    lr: float
    mixup_alpha: float
    seed: int
    progress: bool = True
    bf16: bool = False
    eval_batch_size: int = 500
    distill: float = 0.0
    distill_temperature: float = 1.0
    train_final: bool = True
    label: str = "epoch"
    log_throughput: bool = True


class EpochLoop:
    """Optimizer, cosine schedule, generators and log of one training run, epoch by epoch.

    :param network: the network trained in place (an :class:`ExitNetwork` or its
        QAT copy: it has ``spec``, ``activations`` with learnable clips, and
        returns the logits of every exit).
    :param parameters: the parameters Adam updates.
    :param data: the ``fit`` arrays and the evaluation splits.
    :param settings: schedule, batches, loss and logging.
    :param frozen: modules kept in eval mode while the rest trains (their
        BatchNorm statistics stay as they are).
    :param before_step: called with the global step number before every step.
    :param after_steps: called when an epoch's steps are done, before evaluation.
    """

    def __init__(self, network: nn.Module, parameters: Iterable[nn.Parameter], data: TrainData,
                 settings: LoopSettings, frozen: tuple[nn.Module, ...] = (),
                 before_step: Callable[[int], None] | None = None,
                 after_steps: Callable[[], None] | None = None) -> None:
        self.network = network
        self.spec = network.spec
        self.data = data
        self.settings = settings
        self.frozen = frozen
        self.before_step = before_step
        self.after_steps = after_steps
        self.optimizer = torch.optim.Adam(list(parameters), lr=settings.lr)
        total_steps = settings.epochs * settings.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, cosine_factor(total_steps))
        self.rng = np.random.default_rng(settings.seed)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.log: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.fit_images = torch.from_numpy(np.ascontiguousarray(data.fit_images))
        self.fit_labels = torch.from_numpy(np.ascontiguousarray(data.fit_labels))

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`save`: weights, optimizer, schedule, RNGs, log."""
        self.network.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.rng.bit_generator.state = checkpoint["rng"]["numpy"]
        self.generator.set_state(checkpoint["rng"]["torch"])
        self.start_epoch = int(checkpoint["epoch"])
        self.log = [row for row in checkpoint["log"] if row["epoch"] <= self.start_epoch]

    def save(self, path: Path, epoch: int, extra: dict[str, Any]) -> None:
        """Write the checkpoint after ``epoch`` epochs atomically, with the caller's ``extra`` entries."""
        state = {
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,
            "rng": {"numpy": self.rng.bit_generator.state, "torch": self.generator.get_state()},
            "log": self.log,
            **extra,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def run(self, checkpoint: Path, extra: dict[str, Any],
            write_log: Callable[[list[dict[str, Any]]], None],
            stop_after: int | None = None) -> int | None:
        """Train the remaining epochs, checkpointing, writing the log and printing a line after each.

        ``extra`` is stored in every checkpoint beside the loop's own state;
        ``write_log`` receives the whole log after every epoch. With
        ``stop_after`` the run stops once that epoch is done (unless it is the
        last) and the epoch is returned; ``None`` means every epoch is done.
        """
        s = self.settings
        for epoch in range(self.start_epoch, s.epochs):
            row = self.train_epoch(epoch)
            self.log.append(row)
            self.save(checkpoint, epoch + 1, extra)
            write_log(self.log)
            summary = " ".join(f"{k}={v}" for k, v in row.items() if k.endswith("accuracy"))
            speed = f"{row['train_images_per_second']} img/s " if s.log_throughput else ""
            print(f"[{self.spec.name}] {s.label} {epoch + 1}/{s.epochs} loss={row['train_loss']:.4f} "
                  f"{speed}{summary}", flush=True)
            if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < s.epochs:
                return epoch + 1
        return None

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch (0-based ``epoch``), evaluate every split; return the epoch's log row."""
        s, network = self.settings, self.network
        network.train()
        for module in self.frozen:
            module.eval()
        t0 = time.perf_counter()
        order = torch.randperm(len(self.fit_labels), generator=self.generator)
        loss_sum = 0.0
        steps: Any = range(s.steps_per_epoch)
        if s.progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"{self.spec.name} {s.label} {epoch + 1}/{s.epochs}", leave=False,
                         mininterval=1.0 if sys.stderr.isatty() else 60.0)
        for step in steps:
            if self.before_step is not None:
                self.before_step(epoch * s.steps_per_epoch + step)
            loss_sum += self._step(order[step * s.batch_size:(step + 1) * s.batch_size])
            if s.progress and step % 20 == 0:
                steps.set_postfix(loss=f"{loss_sum / (step + 1):.3f}")
        if self.after_steps is not None:
            self.after_steps()
        train_seconds = time.perf_counter() - t0
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / s.steps_per_epoch,
            "lr_end": self.optimizer.param_groups[0]["lr"],
            "train_seconds": round(train_seconds, 2),
            "train_images_per_second": round(s.steps_per_epoch * s.batch_size / train_seconds, 1),
            "clips": [round(float(a.clip.detach()), 4) for a in network.activations],
        }
        t1 = time.perf_counter()
        for name, (images, labels) in self.data.eval_sets.items():
            accs = evaluate(network, images, labels, self.data.mean, self.data.std,  # type: ignore[arg-type]
                            s.eval_batch_size, self.spec.channels_last)
            row[f"{name}_accuracy"] = dict(zip(self.spec.exit_names,
                                               [round(float(a), 3) for a in accs], strict=True))
        row["eval_seconds"] = round(time.perf_counter() - t1, 2)
        if not s.log_throughput:
            for key in _THROUGHPUT_KEYS:
                del row[key]
        return row

    def _step(self, idx: Tensor) -> float:
        """One optimizer step on the ``fit`` images ``idx``; return the loss."""
        s, spec = self.settings, self.spec
        images = augment_batch(self.fit_images[idx], spec.augment_pad, spec.augment_flip, self.generator)
        x = _normalize(images, self.data.mean, self.data.std, spec.channels_last)
        y = self.fit_labels[idx]
        x, perm, lam = mixup_batch(x, s.mixup_alpha, self.rng, self.generator)
        if spec.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=s.bf16):
            outputs = self.network(x)
        loss = mixup_loss(outputs, y, y[perm], lam, spec.loss_weights, s.distill,
                          s.distill_temperature, s.train_final)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()
