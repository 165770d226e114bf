"""Tests for sparq_gym.data.registry: the dataset table, the data root, unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparq_gym import data

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_idx_entries_hold_the_published_checksums() -> None:
    # digests as published by the distributors (and listed by torchvision)
    mnist = data.DATASETS["mnist"]
    assert [f.name for f in mnist.files] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert mnist.file("train_images").md5 == (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",  # published
        "56f11203c65dcbeead45b51e76a4d637",  # the re-gzipped offline copy
    )
    assert mnist.file("test_labels").md5 == ("ec29112dd5afa0611ce80d1b7f02629c",)
    assert mnist.file("test_labels").content_md5 == "27ae3e4e09519cfbb04c329615203637"
    fashion = data.DATASETS["fashion-mnist"]
    assert fashion.file("test_images").md5 == ("bef4ecab320f06d8554ea6380940ec79",)
    assert fashion.file("test_images").content_md5 == "8181f5470baa50b63fa0f6fddb340f0a"
    assert data.DATASETS["kmnist"].file("train_labels").md5 == ("e144d726b3acfaa3e44228e80efcd344",)
    for name in ("mnist", "fashion-mnist", "kmnist"):
        info = data.DATASETS[name]
        assert (info.directory, info.file_format, info.image_shape) == (name, "idx", (1, 28, 28))
        assert (info.n_train, info.n_test, info.n_classes) == (60_000, 10_000, 10)
    assert data.DATASETS["mnist"].mean == (0.1307,) and data.DATASETS["kmnist"].std == (0.3483,)
    assert list(data.DATASETS) == ["mnist", "fashion-mnist", "kmnist", "cifar10"]
    with pytest.raises(KeyError, match="train_images"):
        data.DATASETS["cifar10"].file("train_images")


def test_data_root_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARQ_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("SPARQ_DATA")
    monkeypatch.setenv("SPARQ_CACHE", str(tmp_path / "cache"))
    assert data.cache_dir() == tmp_path / "cache"
    shared = REPO_ROOT.parent / "shared" / "data"  # the workspace's offline copies, when present
    assert data.data_root() == (shared if shared.is_dir() else tmp_path / "cache" / "data")

def test_missing_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        data.load_split("mnist", "test", missing)
    assert str(missing / "mnist" / "t10k-images-idx3-ubyte.gz") in str(err.value)
    assert "download" in str(err.value) and "SPARQ_DATA" in str(err.value)
    monkeypatch.setenv("SPARQ_DATA", str(missing))
    assert data.data_root() == missing
    with pytest.raises(FileNotFoundError, match="cifar-10-python"):
        data.load_split("cifar10", "test")


def test_unknown_dataset_and_split(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="mnist"):
        data.load_split("imagenet", "test", tmp_path)
    with pytest.raises(ValueError, match="holdout"):
        data.load_split("mnist", "validation", tmp_path)

