"""Tests for sparq_gym.data: IDX and CIFAR-10 readers, checksums, splits, download."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sparq_gym import data
from sparq_gym.data import DataFile, DatasetError

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = Path(os.environ.get("SPARQ_DATA", REPO_ROOT.parent / "shared" / "data"))
HAVE_MNIST = (REAL_DATA / "mnist" / "train-images-idx3-ubyte.gz").is_file()
HAVE_CIFAR = (REAL_DATA / "cifar10").is_dir()

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encode ``array`` in the IDX layout by hand: magic, big-endian dims, big-endian data."""
    big_endian = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian).tobytes()


def md5_of(blob: bytes) -> str:
    return hashlib.md5(blob).hexdigest()


def write_tiny_mnist(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True) -> dict:
    """Write four tiny MNIST-style files; return the arrays and the md5 of each stored file."""
    rng = np.random.default_rng(123)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for role, name in IDX_NAMES.items():
        raw = idx_bytes(arrays[role], 0x08)
        blob = gzip.compress(raw, mtime=0) if gz else raw
        path = folder / (name if gz else name.removesuffix(".gz"))
        path.write_bytes(blob)
        md5s[role] = md5_of(blob)
        md5s[role + "_content"] = md5_of(raw)
    return {"arrays": arrays, "md5": md5s}


def tiny_mnist_info(md5s: dict, n_train: int = 12, n_test: int = 5) -> data.DatasetInfo:
    """The MNIST table entry, with the tiny files' checksums and sizes."""
    files = tuple(
        DataFile(role, name, (md5s[role],), md5s[role + "_content"])
        for role, name in IDX_NAMES.items()
    )
    return dataclasses.replace(data.DATASETS["mnist"], files=files, n_train=n_train, n_test=n_test)


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


# --------------------------------------------------------------------------- IDX


def test_read_idx_hand_made_header(tmp_path: Path) -> None:
    # magic 0x00000801 (uint8, 1 dim), dim 3, then the bytes 7 8 9
    path = tmp_path / "tiny-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09")
    array = data.read_idx(path)
    assert array.dtype == np.uint8
    assert array.tolist() == [7, 8, 9]


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    ("code", "array"),
    [
        (0x08, np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)),
        (0x0B, np.array([[-300, 2], [1000, -1]], dtype=np.int16)),
        (0x0D, np.array([0.5, -2.25, 1e6], dtype=np.float32)),
    ],
)
def test_read_idx_round_trip(tmp_path: Path, gz: bool, code: int, array: np.ndarray) -> None:
    raw = idx_bytes(array, code)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    decoded = data.read_idx(path)
    assert decoded.shape == array.shape
    assert decoded.dtype == array.dtype  # native byte order
    np.testing.assert_array_equal(decoded, array)


def test_read_idx_truncated_raw(tmp_path: Path) -> None:
    raw = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8), 0x08)
    path = tmp_path / "cut"
    path.write_bytes(raw[:-1])
    with pytest.raises(DatasetError, match=r"truncated.*1568 bytes.*found 1567") as err:
        data.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_truncated_gzip(tmp_path: Path) -> None:
    blob = gzip.compress(idx_bytes(np.ones((50, 28, 28), dtype=np.uint8), 0x08))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetError, match="gzip") as err:
        data.read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "dtype code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "trailing"),
        (b"\x00\x00", "too short"),
    ],
)
def test_read_idx_garbled(tmp_path: Path, blob: bytes, message: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(blob)
    with pytest.raises(DatasetError, match=message):
        data.read_idx(path)


# --------------------------------------------------------------------------- MNIST-style loading


@pytest.mark.parametrize("gz", [True, False])
def test_load_split_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    written = write_tiny_mnist(tmp_path / "mnist", gz=gz)
    arrays = written["arrays"]
    test = data.load_split("mnist", "test", tmp_path, verify=False)
    assert test.images.shape == (5, 1, 28, 28) and test.images.dtype == np.uint8
    np.testing.assert_array_equal(test.images[:, 0], arrays["test_images"])
    assert test.labels.dtype == np.int64
    assert test.labels.tolist() == [4, 3, 2, 1, 0]
    assert test.indices.tolist() == [0, 1, 2, 3, 4]
    full = data.load_split("mnist", "train_full", tmp_path, verify=False)
    np.testing.assert_array_equal(full.images[:, 0], arrays["train_images"])
    assert full.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    suffix = ".gz" if gz else ""
    assert set(full.source_md5) == {
        f"train-images-idx3-ubyte{suffix}",
        f"train-labels-idx1-ubyte{suffix}",
    }


def test_same_code_reads_other_idx_datasets(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path / "fashion-mnist")
    split = data.load_split("fashion-mnist", "test", tmp_path, verify=False)
    assert split.info.class_names[9] == "Ankle boot"
    assert split.images.shape == (5, 1, 28, 28)


def test_md5_known_and_content_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_tiny_mnist(tmp_path / "mnist")
    monkeypatch.setitem(data.DATASETS, "mnist", tiny_mnist_info(written["md5"]))
    split = data.load_split("mnist", "test", tmp_path)
    assert split.source_md5["t10k-images-idx3-ubyte.gz"] == written["md5"]["test_images"]
    # a re-gzipped copy (other .gz md5, same content) passes on its content md5
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    regz = gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=99)
    assert md5_of(regz) != written["md5"]["test_images"]
    path.write_bytes(regz)
    again = data.load_split("mnist", "test", tmp_path)
    assert again.source_md5["t10k-images-idx3-ubyte.gz"] == md5_of(regz)


def test_md5_mismatch_names_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_tiny_mnist(tmp_path / "mnist")
    monkeypatch.setitem(data.DATASETS, "mnist", tiny_mnist_info(written["md5"]))
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels = np.array([1, 1, 1, 1, 1], dtype=np.uint8)
    blob = gzip.compress(idx_bytes(labels, 0x08), mtime=0)
    path.write_bytes(blob)
    with pytest.raises(DatasetError) as err:
        data.load_split("mnist", "test", tmp_path)
    message = str(err.value)
    assert str(path) in message
    assert written["md5"]["test_labels"] in message
    assert md5_of(blob) in message
    assert "verify=False" in message
    assert data.load_split("mnist", "test", tmp_path, verify=False).labels.tolist() == [1] * 5


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


def test_normalize_hand_worked() -> None:
    mnist = data.DATASETS["mnist"]
    images = np.array([[[[0, 255]]]], dtype=np.uint8)  # (1, 1, 1, 2)
    out = data.normalize(images, mnist)
    assert out.dtype == np.float32 and out.shape == (1, 1, 1, 2)
    # (0 - 0.1307) / 0.3081 and (1 - 0.1307) / 0.3081
    np.testing.assert_allclose(out.ravel(), [-0.4242129, 2.8214865], rtol=1e-6)
    cifar = data.DATASETS["cifar10"]
    pixel = np.full((3, 1, 1), 51, dtype=np.uint8)  # 51 / 255 = 0.2
    # (0.2 - 0.4914) / 0.2470, (0.2 - 0.4822) / 0.2435, (0.2 - 0.4465) / 0.2616
    expected = [-1.1797571, -1.1589322, -0.9422783]
    np.testing.assert_allclose(data.normalize(pixel, cifar).ravel(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="3 channel"):
        data.normalize(images, cifar)


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

    monkeypatch.setattr(data, "_read_cifar_archive", no_archive)
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


# --------------------------------------------------------------------------- real datasets

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.data
@pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found under {REAL_DATA}")
def test_real_mnist() -> None:
    full = data.load_split("mnist", "train_full", REAL_DATA)
    test = data.load_split("mnist", "test", REAL_DATA)
    assert full.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert np.bincount(full.labels).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(test.labels).tolist() == MNIST_TEST_COUNTS
    fit = data.load_split("mnist", "fit", REAL_DATA)
    held = data.load_split("mnist", "holdout", REAL_DATA)
    assert (len(fit), len(held)) == (55_000, 5_000)
    assert data.split_record(held)["label_counts"] == np.bincount(held.labels).tolist()


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not HAVE_CIFAR, reason=f"CIFAR-10 not found under {REAL_DATA}")
def test_real_cifar10() -> None:
    full = data.load_split("cifar10", "train_full", REAL_DATA)
    test = data.load_split("cifar10", "test", REAL_DATA)
    assert full.images.shape == (50_000, 3, 32, 32) and test.images.shape == (10_000, 3, 32, 32)
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert np.bincount(full.labels).tolist() == [5000] * 10
    held = data.load_split("cifar10", "holdout", REAL_DATA)
    assert len(held) == 5000 and held.labels.dtype == np.int64


def test_source_note_names_the_jpeg_copy_of_cifar10() -> None:
    from sparq_gym.data import source_note

    official = {"dataset": "cifar10", "source_md5": {"cifar-10-python.tar.gz":
                                                     "c58f30108f718f92721af3b95e74349a"}}
    copy = {"dataset": "cifar10", "source_md5": {"cifar-10-python.tar.xz":
                                                 "edb4b12e859ec496decc94754a47b5be"}}
    member = {"dataset": "cifar10", "source_md5": {"test_batch": "641d8af8cfc6afe816468dd31f7f038b"}}
    assert source_note(official) is None
    assert "JPEG" in source_note(copy) and source_note(member) == source_note(copy)
    assert source_note({"dataset": "mnist", "source_md5": {"x": "edb4b12e859ec496decc94754a47b5be"}}) is None
    assert source_note({"dataset": "unknown"}) is None
