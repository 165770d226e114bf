"""Hand-made tiny dataset files shared by the data tests: IDX encoding, tiny MNIST, md5s."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from sparq_gym import data
from sparq_gym.data import DataFile

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}



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

