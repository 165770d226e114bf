"""Trainer: a tiny run that learns, an exact resume, warm restarts and heads-only runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sparq_gym.backbones.train import TrainConfig, TrainData, load_trained, train


def _toy_data(n: int = 320) -> TrainData:
    # class c = a bright 7x7 square in one of ten places: learnable in a few steps
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n).astype(np.int64)
    images = rng.integers(0, 40, (n, 1, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        r, q = divmod(int(c), 4)
        images[i, 0, 7 * r:7 * r + 7, 7 * q:7 * q + 7] = 250
    return TrainData(images, labels, {"test": (images[:64], labels[:64])}, (0.2,), (0.3,))


def _config(out: Path, **kw: object) -> TrainConfig:
    settings: dict[str, object] = {"epochs": 3, "batch_size": 32, "max_steps_per_epoch": 5,
                                   "progress": False, **kw}
    return TrainConfig(backbone="mlp", out_dir=str(out), **settings)  # type: ignore[arg-type]


def test_tiny_run_learns_and_writes_outputs(tmp_path: Path) -> None:
    metrics = train(_config(tmp_path), _toy_data())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [1, 2, 3]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert metrics["final"]["test_accuracy"]["final"] > 50.0
    net = load_trained(tmp_path / "model.pt")
    assert len(net(torch.zeros(2, 1, 28, 28))) == 3


def test_resume_restores_exact_state(tmp_path: Path) -> None:
    data = _toy_data()
    train(_config(tmp_path / "straight"), data)
    stopped = train(_config(tmp_path / "split", stop_after=1), data)
    assert stopped["stopped_after"] == 1
    train(_config(tmp_path / "split"), data, resume=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 15
    assert [r["train_loss"] for r in a["log"]] == [r["train_loss"] for r in b["log"]]
    assert a["rng"]["numpy"] == b["rng"]["numpy"]


def test_too_little_data_is_an_error(tmp_path: Path) -> None:
    data = _toy_data(10)
    with pytest.raises(ValueError, match="at least one batch"):
        train(_config(tmp_path), data)


def test_warm_restart_starts_from_the_parent_and_records_it(tmp_path: Path) -> None:
    data = _toy_data()
    parent = train(_config(tmp_path / "parent"), data)
    child_cfg = _config(tmp_path / "child", init_from=str(tmp_path / "parent" / "model.pt"),
                        lr=3e-4, epochs=1)
    child = train(child_cfg, data)
    # the parent's weights, not a fresh init: the child's first epoch starts where it ended
    first = json.loads((tmp_path / "child" / "log.jsonl").read_text().splitlines()[0])
    fresh = json.loads((tmp_path / "parent" / "log.jsonl").read_text().splitlines()[0])
    assert first["train_loss"] < fresh["train_loss"]
    assert child["parent"]["epochs"] == 3
    assert child["parent"]["final"] == parent["final"]
    assert len(child["parent"]["model_sha256"]) == 64
    assert child["total_train_seconds_with_parents"] == pytest.approx(
        child["total_train_seconds"] + parent["total_train_seconds"], abs=0.11)
    # lr peaks at 3e-4 and decays to 0 over the child's own epoch
    assert first["lr_end"] == pytest.approx(0.0, abs=1e-12)


def test_warm_restart_checks_its_parent(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.pt"):
        train(_config(tmp_path / "a", init_from=str(tmp_path / "missing.pt")), _toy_data())
    train(_config(tmp_path / "mlp"), _toy_data())
    with pytest.raises(ValueError, match="'mlp' model, not 'lenet'"):
        train(TrainConfig(backbone="lenet", out_dir=str(tmp_path / "b"), epochs=1,
                          init_from=str(tmp_path / "mlp" / "model.pt"), progress=False),
              _toy_data())


def test_heads_only_keeps_the_backbone_and_distills_into_the_heads(tmp_path: Path) -> None:
    data = _toy_data()
    train(_config(tmp_path / "parent", epochs=1), data)
    parent_pt = tmp_path / "parent" / "model.pt"
    train(_config(tmp_path / "heads", init_from=str(parent_pt), heads_only=True, distill=0.5,
                  distill_temperature=2.0, epochs=2), data)
    before, after = load_trained(parent_pt), load_trained(tmp_path / "heads" / "model.pt")
    x = torch.from_numpy(data.fit_images[:16]).float() / 255.0
    # backbone weights, clips and BatchNorm statistics untouched: same final logits
    assert torch.equal(before(x)[-1], after(x)[-1])
    b_state, a_state = before.state_dict(), after.state_dict()
    assert all(torch.equal(b_state[k], a_state[k]) for k in b_state if not k.startswith("heads."))
    assert any(not torch.equal(b_state[k], a_state[k]) for k in b_state if k.startswith("heads."))


def test_heads_only_needs_a_parent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="init_from"):
        train(_config(tmp_path, heads_only=True), _toy_data())


def test_warm_restart_resumes_without_its_parent_file(tmp_path: Path) -> None:
    data = _toy_data()
    train(_config(tmp_path / "parent", epochs=1), data)
    parent_pt = tmp_path / "parent" / "model.pt"
    straight = train(_config(tmp_path / "a", init_from=str(parent_pt), epochs=2), data)
    stopped = train(_config(tmp_path / "b", init_from=str(parent_pt), epochs=2, stop_after=1), data)
    assert stopped["stopped_after"] == 1
    moved = tmp_path / "moved.pt"
    parent_pt.rename(moved)  # the parent is gone: the checkpoint holds weights and record
    resumed = train(_config(tmp_path / "b", init_from=str(parent_pt), epochs=2), data, resume=True)
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["parent"] == straight["parent"]


def test_warm_restart_refuses_unclear_parents(tmp_path: Path) -> None:
    data = _toy_data()
    train(_config(tmp_path / "p", epochs=1), data)
    with pytest.raises(ValueError, match="own --out"):
        train(_config(tmp_path / "p", init_from=str(tmp_path / "p" / "model.pt")), data)
    with pytest.raises(ValueError, match="keeps its dataset"):
        train(_config(tmp_path / "c", init_from=str(tmp_path / "p" / "model.pt"),
                      dataset="fashion-mnist"), data)
    (tmp_path / "p" / "metrics.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"metrics\.json"):
        train(_config(tmp_path / "d", init_from=str(tmp_path / "p" / "model.pt")), data)
