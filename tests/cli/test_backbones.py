"""``sparq backbone stats|train`` through the command-line entry point."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sparq_gym.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = Path(os.environ.get("SPARQ_DATA", REPO_ROOT.parent / "shared" / "data"))
HAVE_MNIST = (REAL_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists() or (
    REAL_DATA / "mnist" / "train-images-idx3-ubyte"
).exists()


def test_stats_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backbone", "stats", "alexnet", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["macs"] == 200_515_584
    assert stats["neurons"] == 180_234
    assert stats["lif_ops_t4"] == 1_441_872
    assert stats["lif_ops_t32"] == 11_534_976
    assert [e["name"] for e in stats["exits"]] == ["exit1", "exit2", "final"]
    assert stats["exits"][-1]["macs"] > stats["macs"]  # the final path includes both heads


def test_stats_text_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backbone", "stats", "mlp"]) == 0
    assert "574,080 MACs" in capsys.readouterr().out
    assert main(["backbone", "stats", "vgg"]) == 2
    assert "expected one of" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found under {REAL_DATA}")
def test_train_command_on_mnist(tmp_path: Path) -> None:
    argv = ["backbone", "train", "lenet", "--data-root", str(REAL_DATA), "--epochs", "2",
            "--max-steps", "3", "--out", str(tmp_path), "--no-progress", "--stop-after", "1"]
    assert main(argv) == 0
    assert main([*argv[:-2], "--resume"]) == 0
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [1, 2]
    assert set(log[-1]["test_accuracy"]) == {"exit1", "exit2", "final"}
    assert (tmp_path / "metrics.json").exists()
