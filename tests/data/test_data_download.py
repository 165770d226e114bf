"""Tests for sparq_gym.data.download: mirrors tried in order, files kept only with a known md5."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import IDX_NAMES, md5_of, tiny_mnist_info, write_tiny_mnist

from sparq_gym import data
from sparq_gym.data import DatasetError

# --------------------------------------------------------------------------- download


def test_download_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    written = write_tiny_mnist(mirror)
    info = dataclasses.replace(
        tiny_mnist_info(written["md5"]),
        mirrors=((tmp_path / "dead").as_uri() + "/", mirror.as_uri() + "/"),
    )
    monkeypatch.setitem(data.DATASETS, "mnist", info)
    root = tmp_path / "root"
    folder = data.download("mnist", root)
    assert folder == root / "mnist"
    for role, name in IDX_NAMES.items():
        assert md5_of((folder / name).read_bytes()) == written["md5"][role]
    split = data.load_split("mnist", "test", root)
    np.testing.assert_array_equal(split.images[:, 0], written["arrays"]["test_images"])


def test_download_rejects_wrong_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar-10-python.tar.gz").write_bytes(b"something else")
    info = dataclasses.replace(data.DATASETS["cifar10"], mirrors=(mirror.as_uri() + "/",))
    monkeypatch.setitem(data.DATASETS, "cifar10", info)
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="c58f30108f718f92721af3b95e74349a") as err:
        data.download("cifar10", root)
    assert md5_of(b"something else") in str(err.value)
    assert list((root / "cifar10").iterdir()) == []  # nothing left behind

