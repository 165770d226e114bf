"""Tests for sparq_gym.data.splits: hold-out indices, fit/holdout cuts, split records, real datasets."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import write_tiny_mnist

from sparq_gym import data
from sparq_gym.data import source_note
from sparq_gym.data.splits import ImageSplit

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = Path(os.environ.get("SPARQ_DATA", REPO_ROOT.parent / "shared" / "data"))
HAVE_MNIST = (REAL_DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file()
HAVE_CIFAR = (REAL_DATA / "cifar10").is_dir()


# --------------------------------------------------------------------------- splits


def test_holdout_indices_properties() -> None:
    first = data.holdout_indices(60_000, 5000, seed=0)
    assert first.dtype == np.int64 and first.shape == (5000,)
    np.testing.assert_array_equal(first, data.holdout_indices(60_000, 5000, seed=0))
    assert np.all(np.diff(first) > 0)  # sorted, no repeats
    assert first.min() >= 0 and first.max() < 60_000
    assert not np.array_equal(first, data.holdout_indices(60_000, 5000, seed=1))
    assert data.holdout_indices(7, 7).tolist() == list(range(7))
    assert data.holdout_indices(7, 0).tolist() == []
    with pytest.raises(ValueError, match=r"\[0, 7\]"):
        data.holdout_indices(7, 8)


def test_fit_and_holdout_partition_train(tmp_path: Path) -> None:
    written = write_tiny_mnist(tmp_path / "mnist", n_train=12)
    kwargs = {"root": tmp_path, "holdout_size": 4, "holdout_seed": 3, "verify": False}
    fit = data.load_split("mnist", "fit", **kwargs)
    held = data.load_split("mnist", "holdout", **kwargs)
    assert len(fit) == 8 and len(held) == 4
    assert set(fit.indices.tolist()).isdisjoint(held.indices.tolist())
    assert sorted([*fit.indices.tolist(), *held.indices.tolist()]) == list(range(12))
    train = written["arrays"]["train_images"]
    np.testing.assert_array_equal(held.images[:, 0], train[held.indices])
    np.testing.assert_array_equal(fit.labels, fit.indices % 10)  # label of image i is i % 10
    again = data.load_split("mnist", "holdout", **kwargs)
    np.testing.assert_array_equal(again.indices, held.indices)


def test_split_record(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path / "mnist")
    test = data.load_split("mnist", "test", tmp_path, verify=False)
    record = data.split_record(test)
    json.dumps(record)  # JSON-able
    # labels 4 3 2 1 0 -> one image in each of classes 0..4
    assert record["label_counts"] == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert record["n"] == 5 and record["split"] == "test" and record["dataset"] == "mnist"
    assert record["holdout_size"] is None and record["source"] == "test"
    expected = hashlib.sha256(struct.pack("<5q", 0, 1, 2, 3, 4)).hexdigest()
    assert record["indices_sha256"] == expected
    held_split = data.load_split(
        "mnist", "holdout", tmp_path, holdout_size=3, holdout_seed=5, verify=False
    )
    held = data.split_record(held_split)
    assert (held["holdout_size"], held["holdout_seed"], held["source"]) == (3, 5, "train")
    assert set(held["source_md5"]) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}


# --------------------------------------------------------------------------- real datasets

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def check_official_sets(
    name: str, shape: tuple[int, ...], train_counts: list[int], test_counts: list[int]
) -> ImageSplit:
    """Load the official train and test sets from the real files, check them; return the hold-out."""
    full = data.load_split(name, "train_full", REAL_DATA)
    test = data.load_split(name, "test", REAL_DATA)
    assert full.images.shape == (sum(train_counts), *shape)
    assert test.images.shape == (sum(test_counts), *shape)
    assert np.bincount(full.labels).tolist() == train_counts
    assert np.bincount(test.labels).tolist() == test_counts
    return data.load_split(name, "holdout", REAL_DATA)


@pytest.mark.data
@pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found under {REAL_DATA}")
def test_real_mnist() -> None:
    assert (sum(MNIST_TRAIN_COUNTS), sum(MNIST_TEST_COUNTS)) == (60_000, 10_000)
    held = check_official_sets("mnist", (1, 28, 28), MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS)
    fit = data.load_split("mnist", "fit", REAL_DATA)
    assert (len(fit), len(held)) == (55_000, 5_000)
    assert data.split_record(held)["label_counts"] == np.bincount(held.labels).tolist()


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not HAVE_CIFAR, reason=f"CIFAR-10 not found under {REAL_DATA}")
def test_real_cifar10() -> None:
    held = check_official_sets("cifar10", (3, 32, 32), [5000] * 10, [1000] * 10)  # 50,000 and 10,000
    assert len(held) == 5000 and held.labels.dtype == np.int64


def test_source_note_names_the_jpeg_copy_of_cifar10() -> None:
    official = {"dataset": "cifar10", "source_md5": {"cifar-10-python.tar.gz":
                                                     "c58f30108f718f92721af3b95e74349a"}}
    copy = {"dataset": "cifar10", "source_md5": {"cifar-10-python.tar.xz":
                                                 "edb4b12e859ec496decc94754a47b5be"}}
    member = {"dataset": "cifar10", "source_md5": {"test_batch": "641d8af8cfc6afe816468dd31f7f038b"}}
    assert source_note(official) is None
    assert "JPEG" in source_note(copy) and source_note(member) == source_note(copy)
    assert source_note({"dataset": "mnist", "source_md5": {"x": "edb4b12e859ec496decc94754a47b5be"}}) is None
    assert source_note({"dataset": "unknown"}) is None
