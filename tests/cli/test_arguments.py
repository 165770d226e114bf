"""Parsed arguments to library configurations (sparq_gym.cli.arguments), for every command that builds one."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import pytest

from sparq_gym.cli import main
from sparq_gym.cli.arguments import config_from_args


@dataclass
class _Settings:
    name: str
    size: int = 3
    flag: bool = False
    note: str = "default"


def test_same_names_are_taken_values_win_the_rest_default() -> None:
    args = argparse.Namespace(name="x", size=5, flag=True, unrelated=1, handler=print)
    assert config_from_args(_Settings, args) == _Settings("x", 5, True, "default")
    assert config_from_args(_Settings, args, size=9, note="given") == _Settings("x", 9, True, "given")


class _Stop(Exception):
    """Raised by a stand-in library call once it has the configuration."""


def _capture(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    seen: list[Any] = []

    def stand_in(config: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(config)
        raise _Stop

    monkeypatch.setattr(module, name, stand_in)
    return seen


def test_report_command_builds_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import sparq_gym.reports.paper as paper

    seen = _capture(monkeypatch, paper, "build_report")
    with pytest.raises(_Stop):
        main(["report", "lenet", "--timing", "recorded", "--threads", "2", "--timing-images", "4",
              "--root", "/r", "--out", "/o", "--json"])
    assert seen == [paper.ReportConfig("lenet", root="/r", timing="recorded", timing_images=4, threads=2)]


def test_pipeline_command_builds_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import sparq_gym.pipeline as pipeline

    seen = _capture(monkeypatch, pipeline, "run_pipeline")
    monkeypatch.setattr("sys.argv", ["/venv/bin/sparq", "backbone", "extract", "mlp"])
    with pytest.raises(_Stop):
        main(["backbone", "extract", "mlp", "--work", "w", "--out", "o", "--limit", "8", "--qat-lr", "0.5",
              "--networks", "qdsnn,snn", "--no-progress", "--force", "--calibration-images", "0"])
    config = seen[0]
    expected = pipeline.PipelineConfig("mlp", work_dir="w", out_root="o", limit=8, qat_lr=0.5,
                                       networks=("qdsnn", "snn"), force=True, progress=False,
                                       calibration_images=0, command=config.command)
    assert config == expected
    assert config.command == "sparq backbone extract mlp"  # the command line as typed (sys.argv)


def test_train_command_builds_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import sparq_gym.backbones.train as training

    seen = _capture(monkeypatch, training, "train")
    with pytest.raises(_Stop):
        main(["backbone", "train", "lenet", "--out", "runs/x", "--epochs", "3", "--max-steps", "2",
              "--no-holdout", "--no-progress", "--lr", "0.01", "--seed", "4", "--distill", "0.5"])
    assert seen == [training.TrainConfig(backbone="lenet", out_dir="runs/x", epochs=3, max_steps_per_epoch=2,
                                         eval_holdout=False, progress=False, lr=0.01, seed=4, distill=0.5)]


@pytest.mark.parametrize(
    ("argv", "module", "name"),
    [
        (["backbone", "train", "mlp", "--out", "x", "--no-verify"], "sparq_gym.backbones.train", "train"),
        (["backbone", "pipeline", "mlp", "--no-verify"], "sparq_gym.pipeline", "run_pipeline"),
        (["backbone", "qat", "mlp", "--no-verify"], "sparq_gym.pipeline", "run_pipeline"),
    ],
)
def test_commands_that_read_a_dataset_take_no_verify(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], module: str, name: str
) -> None:
    import importlib

    seen = _capture(monkeypatch, importlib.import_module(module), name)
    with pytest.raises(_Stop):
        main(argv)
    assert seen[0].verify is False
    seen.clear()
    with pytest.raises(_Stop):
        main([a for a in argv if a != "--no-verify"])
    assert seen[0].verify is True
