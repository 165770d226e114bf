"""``sparq train ... --tensorboard DIR``: event files that TensorBoard reads back."""

from __future__ import annotations

import json

import pytest

from sparq_gym.cli import main

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ENV = ["--env", "SPARQExit-LeNet-v0", "--traces", "synthetic"]


def _scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in tags}


def test_q_learning_writes_its_curve_under_sb3_tags(tmp_path):
    out, logs = tmp_path / "ql", tmp_path / "tb"
    flags = ["--out", str(out), "--tensorboard", str(logs)]
    assert main(["train", "q-learning", *ENV, "--episodes", "1000", *flags]) == 0
    curve = json.loads((out / "learning_curve.json").read_text())
    scalars = _scalars(logs / "q-learning_1")
    assert [step for step, _ in scalars["eval/mean_reward"]] == [c["steps"] for c in curve]
    for (_, value), point in zip(scalars["eval/mean_reward"], curve):
        assert value == pytest.approx(point["validation_return"], abs=1e-6)
    assert [v for _, v in scalars["rollout/exploration_rate"]] == pytest.approx([c["epsilon"] for c in curve])
    assert len(scalars["rollout/ep_rew_mean"]) == len(curve)
    # a second run goes to the next folder, as SB3's do
    assert main(["train", "q-learning", *ENV, "--episodes", "500", *flags]) == 0
    assert (logs / "q-learning_2").is_dir()


def test_dqn_uses_sb3s_logger(tmp_path):
    logs = tmp_path / "tb"
    argv = ["train", "dqn", *ENV, "--timesteps", "600", "--out", str(tmp_path / "dqn"), "--tensorboard"]
    argv.append(str(logs))
    assert main(argv) == 0
    scalars = _scalars(logs / "dqn_1")
    assert "rollout/exploration_rate" in scalars and "rollout/ep_rew_mean" in scalars
    assert scalars["rollout/exploration_rate"][-1][1] < 1.0
