"""Tests for sparq_gym.data.idx: the IDX parser and the MNIST-style loaders with their md5 checks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import idx_bytes, md5_of, tiny_mnist_info, write_tiny_mnist

from sparq_gym import data
from sparq_gym.data import DatasetError

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
    assert "--no-verify" in message and "verify=False" in message
    assert data.load_split("mnist", "test", tmp_path, verify=False).labels.tolist() == [1] * 5


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debians_regzipped_fashion_mnist_passes_by_its_content() -> None:
    """Debian re-gzips the files (other .gz md5s); their content matches the published digests."""
    import hashlib

    published = data.DATASETS["fashion-mnist"].file("test_images")
    gz = (DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert hashlib.md5(gz).hexdigest() not in published.md5  # not the published archive
    split = data.load_split("fashion-mnist", "test", DEBIAN_FASHION.parent, verify=True)
    assert split.images.shape == (10_000, 1, 28, 28) and split.labels.max() == 9
