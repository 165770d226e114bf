"""The shared training loop: augmentation, mixup and its loss by hand, the schedule, an exact resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sparq_gym.backbones.loop import (
    EpochLoop,
    LoopSettings,
    TrainData,
    augment_batch,
    cosine_factor,
    count_steps,
    mixup_batch,
    mixup_loss,
)
from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec


def test_augment_crop_offsets_and_flip() -> None:
    images = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    out = augment_batch(images.repeat(50, 1, 1, 1), pad=1, flip=True, generator=gen)
    assert out.dtype == torch.uint8 and out.shape == (50, 1, 4, 4)
    # every result is the image shifted by at most one pixel (zero fill), maybe mirrored
    padded = torch.nn.functional.pad(images[0, 0], (1, 1, 1, 1))
    crops = {tuple(padded[dy:dy + 4, dx:dx + 4].flatten().tolist())
             for dy in range(3) for dx in range(3)}
    crops |= {tuple(torch.tensor(c).reshape(4, 4).flip(-1).flatten().tolist()) for c in crops}
    assert all(tuple(o.flatten().tolist()) in crops for o in out[:, 0])
    # pad 0, no flip: identity
    assert torch.equal(augment_batch(images, 0, False, gen), images)


def test_mixup_combines_partners() -> None:
    x = torch.tensor([[1.0], [3.0]])
    mixed, perm, lam = mixup_batch(x, 0.2, np.random.default_rng(0), torch.Generator())
    assert 0.0 <= lam <= 1.0
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[perm])
    same, _, one = mixup_batch(x, 0.0, np.random.default_rng(0), torch.Generator())
    assert one == 1.0 and torch.equal(same, x)


def test_mixup_loss_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = (1/4, 3/4)
    y, y_mixed = torch.tensor([1]), torch.tensor([0])
    got = mixup_loss([logits, logits], y, y_mixed, 0.25, (0.5, 2.0))
    # per exit: 0.25 * -log(3/4) + 0.75 * -log(1/4); weights 0.5 + 2.0
    term = 0.25 * -math.log(0.75) + 0.75 * -math.log(0.25)
    assert float(got) == pytest.approx(2.5 * term, rel=1e-6)


def test_distillation_loss_by_hand() -> None:
    early = torch.tensor([[2.0, 0.0]])
    final = torch.tensor([[0.0, 1.0]])
    y = torch.tensor([1])
    got = mixup_loss([early, final], y, y, 1.0, (0.5, 1.0), distill=0.25, temperature=2.0,
                     train_final=False)
    # early head: CE = log(1 + e^2); teacher q = softmax([0, 0.5]), student p = softmax([1, 0])
    ce = np.log1p(np.exp(2.0))
    q = np.exp([0.0, 0.5]) / np.exp([0.0, 0.5]).sum()
    p = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum()
    kl = float((q * np.log(q / p)).sum())
    want = 0.5 * (0.75 * ce + 0.25 * 4.0 * kl)  # the frozen final head adds nothing
    assert float(got) == pytest.approx(want, rel=1e-6)


def test_cosine_schedule_and_step_count() -> None:
    factor = cosine_factor(10)
    assert factor(0) == 1.0 and factor(5) == pytest.approx(0.5) and factor(10) == pytest.approx(0.0)
    assert factor(15) == factor(10)  # past the end it stays at 0
    assert factor(2) == pytest.approx(0.5 * (1 + math.cos(math.pi / 5)))
    assert count_steps(320, 32, None) == 10
    assert count_steps(320, 32, 4) == 4
    assert count_steps(31, 32, None) == 0


def _tiny() -> tuple[BackboneSpec, TrainData]:
    spec = BackboneSpec(
        name="tiny", dataset="mnist", input_shape=(1, 4, 4), num_classes=3,
        layers=(LayerSpec("linear", 16, 8, flatten_before=True, name="fc1"),
                LayerSpec("linear", 8, 3, batch_norm=False, name="out")),
        exits=(ExitSpec(0, (LayerSpec("linear", 8, 4, name="h"),
                            LayerSpec("linear", 4, 3, batch_norm=False, name="ho")), name="exit1"),),
        batch_size=16, augment_pad=1, augment_flip=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 1, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, size=64).astype(np.int64)
    return spec, TrainData(images, labels, {"test": (images[:16], labels[:16])}, (0.5,), (0.25,))


def _loop(spec: BackboneSpec, data: TrainData, steps: list[int]) -> EpochLoop:
    network = build_network(spec, seed=0)
    settings = LoopSettings(epochs=3, batch_size=16, steps_per_epoch=4, lr=1e-2, mixup_alpha=0.2,
                            seed=1, progress=False, label="QAT epoch", log_throughput=False)
    return EpochLoop(network, network.parameters(), data, settings, before_step=steps.append)


def test_loop_resumes_exactly_and_logs_what_it_is_asked_to(tmp_path: Path) -> None:
    spec, data = _tiny()
    steps: list[int] = []
    straight = _loop(spec, data, steps)
    assert straight.run(tmp_path / "a.pt", {"note": "a"}, lambda log: None) is None
    assert steps == list(range(12))  # global step numbers, epoch after epoch
    assert list(straight.log[0]) == ["epoch", "train_loss", "train_seconds", "clips", "test_accuracy"]
    first = _loop(spec, data, [])
    assert first.run(tmp_path / "b.pt", {"note": "b"}, lambda log: None, stop_after=1) == 1
    resumed = _loop(spec, data, [])
    checkpoint = torch.load(tmp_path / "b.pt", weights_only=False)
    assert checkpoint["epoch"] == 1 and checkpoint["note"] == "b"
    resumed.restore(checkpoint)
    written: list[int] = []
    assert resumed.run(tmp_path / "b.pt", {}, lambda log: written.append(len(log))) is None
    assert written == [2, 3]
    a, b = straight.network.state_dict(), resumed.network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in straight.log] == [r["train_loss"] for r in resumed.log]
    # the learning rate ends at 0 after 3 x 4 steps of the cosine schedule
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
