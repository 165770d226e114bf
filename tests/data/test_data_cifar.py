"""Tests for sparq_gym.data.cifar: CIFAR-10 tarballs, the unpacked folder, md5 checks, the cache."""

from __future__ import annotations

import dataclasses
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import md5_of

from sparq_gym import data
from sparq_gym.data import DataFile, DatasetError, cifar

CIFAR_TRAIN_PER_BATCH = 4
CIFAR_TEST = 6


def tiny_cifar_members() -> dict[str, bytes]:
    """Pickled batches in the official layout (b'data' rows of 3072 bytes, b'labels')."""
    rng = np.random.default_rng(7)
    members = {}
    for k in range(1, 6):
        batch = {
            b"batch_label": f"training batch {k} of 5".encode(),
            b"data": rng.integers(0, 256, size=(CIFAR_TRAIN_PER_BATCH, 3072), dtype=np.uint8),
            b"labels": [(k + i) % 10 for i in range(CIFAR_TRAIN_PER_BATCH)],
        }
        members[f"data_batch_{k}"] = pickle.dumps(batch, protocol=2)
    test = {
        b"batch_label": b"testing batch 1 of 1",
        b"data": rng.integers(0, 256, size=(CIFAR_TEST, 3072), dtype=np.uint8),
        b"labels": [9, 0, 1, 2, 3, 4],
    }
    members["test_batch"] = pickle.dumps(test, protocol=2)
    names = [n.encode() for n in data.DATASETS["cifar10"].class_names]
    members["batches.meta"] = pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2)
    return members


def write_cifar_tar(path: Path, members: dict[str, bytes]) -> str:
    """Write a CIFAR-style tarball (compression from the suffix); return its md5."""
    mode = {".gz": "w:gz", ".xz": "w:xz"}[path.suffix]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return md5_of(path.read_bytes())


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SPARQ_CACHE", str(folder))
    return folder



# --------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.xz"])
def test_cifar_tarball_round_trip_and_cache(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    members = tiny_cifar_members()
    archive = tmp_path / "root" / "cifar10" / f"cifar-10-python{suffix}"
    archive_md5 = write_cifar_tar(archive, members)
    test = data.load_split("cifar10", "test", tmp_path / "root", verify=False)
    raw_test = pickle.loads(members["test_batch"], encoding="bytes")[b"data"]
    assert test.images.shape == (CIFAR_TEST, 3, 32, 32) and test.images.dtype == np.uint8
    # row layout: 1024 red, then 1024 green, then 1024 blue values, each row-major 32x32
    assert test.images[2, 1, 5, 7] == raw_test[2, 1024 + 5 * 32 + 7]
    assert test.images[0, 2, 31, 31] == raw_test[0, 3071]
    np.testing.assert_array_equal(test.images.reshape(CIFAR_TEST, -1), raw_test)
    assert test.labels.tolist() == [9, 0, 1, 2, 3, 4]
    assert test.source_md5 == {archive.name: archive_md5}
    assert (cache / f"cifar10-{archive_md5}.npz").is_file()

    # the second load comes from the cache: reading the archive again would fail
    def no_archive(path: Path) -> dict:
        raise AssertionError("archive decoded twice")

    monkeypatch.setattr(cifar, "_read_cifar_archive", no_archive)
    train = data.load_split("cifar10", "train_full", tmp_path / "root", verify=False)
    assert train.images.shape == (5 * CIFAR_TRAIN_PER_BATCH, 3, 32, 32)
    batch3 = pickle.loads(members["data_batch_3"], encoding="bytes")
    rows = slice(2 * CIFAR_TRAIN_PER_BATCH, 3 * CIFAR_TRAIN_PER_BATCH)  # batches in order 1..5
    flat = train.images[rows].reshape(CIFAR_TRAIN_PER_BATCH, -1)
    np.testing.assert_array_equal(flat, batch3[b"data"])
    assert train.labels[rows].tolist() == [3, 4, 5, 6]


def test_cifar_unknown_md5_and_known(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    archive_md5 = write_cifar_tar(archive, tiny_cifar_members())
    with pytest.raises(DatasetError) as err:
        data.load_split("cifar10", "test", tmp_path)
    assert str(archive) in str(err.value) and archive_md5 in str(err.value)
    assert "c58f30108f718f92721af3b95e74349a" in str(err.value)
    info = data.DATASETS["cifar10"]
    tiny = dataclasses.replace(
        info,
        files=(DataFile("archive", "cifar-10-python.tar.gz", (archive_md5,)),),
        n_train=5 * CIFAR_TRAIN_PER_BATCH,
        n_test=CIFAR_TEST,
    )
    monkeypatch.setitem(data.DATASETS, "cifar10", tiny)
    assert len(data.load_split("cifar10", "test", tmp_path)) == CIFAR_TEST


def test_cifar_unpacked_folder(tmp_path: Path, cache: Path) -> None:
    members = tiny_cifar_members()
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, blob in members.items():
        (folder / name).write_bytes(blob)
    split = data.load_split("cifar10", "holdout", tmp_path, holdout_size=5, verify=False)
    assert len(split) == 5
    assert split.source_md5["test_batch"] == md5_of(members["test_batch"])
    with pytest.raises(DatasetError, match="data_batch_1"):
        data.load_split("cifar10", "test", tmp_path)  # tiny batches have unknown md5s


def test_cifar_corrupt_archive(tmp_path: Path, cache: Path) -> None:
    archive = tmp_path / "cifar10" / "cifar-10-python.tar.xz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not a tarball at all")
    with pytest.raises(DatasetError, match="tar"):
        data.load_split("cifar10", "test", tmp_path, verify=False)

