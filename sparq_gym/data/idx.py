"""MNIST-style IDX files: the format parser and the loader of a dataset's train or test set.

The IDX format (MNIST, Fashion-MNIST, KMNIST) is a 4-byte magic number, one
big-endian uint32 per dimension, then the data in C order, big-endian; the
published files are gzip-compressed. :func:`read_idx` reads one file; the
loader checks each file against the md5 digests of its :class:`DataFile`.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from sparq_gym.data.checksums import _md5_bytes, _unknown_md5
from sparq_gym.data.registry import DataFile, DatasetError, DatasetInfo, _how_to_get

__all__ = ["read_idx"]

# IDX dtype codes (byte 3 of the magic number) -> big-endian numpy dtype.
# IDX dtype codes (byte 3 of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts with the gzip magic bytes."""
    return data[:2] == b"\x1f\x8b"


def _read_maybe_gzip(path: Path) -> tuple[bytes, bytes]:
    """Return ``(stored bytes, content bytes)`` of a file that may be gzip-compressed."""
    stored = path.read_bytes()
    if not _is_gzip(stored):
        return stored, stored
    try:
        return stored, gzip.decompress(stored)
    except (EOFError, OSError) as err:  # truncated or garbled gzip stream
        raise DatasetError(f"{path}: corrupt or truncated gzip stream ({err})") from err


def _parse_idx(content: bytes, source: str) -> np.ndarray:
    """Decode IDX bytes (already decompressed) into a native-endian array."""
    if len(content) < 4:
        raise DatasetError(
            f"{source}: file too short for an IDX header ({len(content)} bytes, expected >= 4)"
        )
    if content[0] != 0 or content[1] != 0:
        raise DatasetError(
            f"{source}: bad IDX magic number 0x{content[:4].hex()} "
            f"(expected two zero bytes, a dtype code and the number of dimensions)"
        )
    code, ndim = content[2], content[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise DatasetError(f"{source}: unknown IDX dtype code 0x{code:02X} (expected {known})")
    if ndim == 0:
        raise DatasetError(f"{source}: IDX header declares 0 dimensions (expected >= 1)")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DatasetError(
            f"{source}: truncated IDX header ({len(content)} bytes, expected {header_size} "
            f"for {ndim} dimensions)"
        )
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(content) - header_size
    if found != expected:
        kind = "truncated" if found < expected else "has trailing bytes"
        raise DatasetError(
            f"{source}: IDX data {kind}: dims {dims} of {dtype.name} need {expected} bytes "
            f"after the header, found {found}"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a numpy array.

    The IDX format (MNIST, Fashion-MNIST, KMNIST) is a 4-byte magic number --
    two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64) and the number of dimensions -- then one
    big-endian uint32 per dimension, then the data in C order, big-endian.
    Compression is detected from the gzip magic bytes, not the file name. The
    result has the declared shape and the native byte order. A bad magic
    number, an unknown dtype code, a truncated file or trailing bytes raise
    :class:`DatasetError` naming the file.
    """
    path = Path(path)
    _, content = _read_maybe_gzip(path)
    return _parse_idx(content, str(path))


def _locate_idx(folder: Path, data_file: DataFile) -> Path | None:
    """Find ``data_file`` in ``folder``, as published (.gz) or uncompressed."""
    candidates = [folder / data_file.name]
    if data_file.name.endswith(".gz"):
        candidates.append(folder / data_file.name[: -len(".gz")])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _load_idx_file(path: Path, data_file: DataFile, verify: bool) -> tuple[np.ndarray, str]:
    """Read one IDX file of a dataset, check its md5; return ``(array, md5 as stored)``."""
    stored, content = _read_maybe_gzip(path)
    stored_md5 = _md5_bytes(stored)
    if verify and stored_md5 not in data_file.md5:
        content_md5 = _md5_bytes(content)
        if data_file.content_md5 is None or content_md5 != data_file.content_md5:
            accepted = list(data_file.md5)
            extra = ""
            if data_file.content_md5 is not None:
                accepted.append(f"{data_file.content_md5} (uncompressed content)")
                extra = f"; md5 of the uncompressed content is {content_md5}"
            raise _unknown_md5(path, accepted, stored_md5, extra)
    return _parse_idx(content, str(path)), stored_md5


def _load_idx_source(
    info: DatasetInfo, source: str, root: Path, verify: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Load the official ``train`` or ``test`` images and labels of an IDX dataset."""
    folder = root / info.directory
    image_file, label_file = info.file(f"{source}_images"), info.file(f"{source}_labels")
    paths = {f.role: _locate_idx(folder, f) for f in (image_file, label_file)}
    missing = [f.name for f in (image_file, label_file) if paths[f.role] is None]
    if missing:
        looked = ", ".join(str(folder / name) for name in missing)
        raise FileNotFoundError(
            f"{info.name} {source} files not found (looked for {looked}, also without .gz); "
            + _how_to_get(info)
        )
    image_path, label_path = paths[image_file.role], paths[label_file.role]
    assert image_path is not None and label_path is not None
    images, image_md5 = _load_idx_file(image_path, image_file, verify)
    labels, label_md5 = _load_idx_file(label_path, label_file, verify)
    _, height, width = info.image_shape
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (height, width):
        raise DatasetError(
            f"{image_path}: expected uint8 images of shape (N, {height}, {width}), "
            f"found {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{label_path}: expected {images.shape[0]} labels (one per image in "
            f"{image_path.name}), found shape {labels.shape}"
        )
    source_md5 = {image_path.name: image_md5, label_path.name: label_md5}
    return images[:, None, :, :], labels.astype(np.int64), source_md5
