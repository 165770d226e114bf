"""CIFAR-10 in its python release: a tarball (or unpacked folder) of pickled batches.

The archive is read in one sequential pass, each batch is checked and decoded
into ``uint8`` images ``(N, 3, 32, 32)`` and ``int64`` labels, and the decoded
arrays are cached in ``<cache>/cifar10-<md5 of archive>.npz`` so that the slow
decoding happens once per archive.
"""

from __future__ import annotations

import pickle
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparq_gym.data.checksums import _md5_bytes, _md5_file, _unknown_md5
from sparq_gym.data.registry import DatasetError, DatasetInfo, _how_to_get, cache_dir
from sparq_gym.io import atomic_path

_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
_CIFAR_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
_CIFAR_CACHE_VERSION = 1


def _locate_cifar(info: DatasetInfo, root: Path) -> Path:
    """Return the CIFAR-10 archive (any compression) or unpacked folder under ``root``."""
    folder = root / info.directory
    stem = info.file("archive").name.removesuffix(".tar.gz")
    candidates = [folder / f"{stem}{suffix}" for suffix in _CIFAR_ARCHIVE_SUFFIXES]
    candidates.append(folder / _CIFAR_FOLDER)
    for candidate in candidates:
        if candidate.is_file() or (candidate.name == _CIFAR_FOLDER and candidate.is_dir()):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"{info.name} not found (looked for {looked}); " + _how_to_get(info))


def _unpickle_batch(data: bytes, source: str) -> dict[bytes, Any]:
    """Unpickle one CIFAR-10 batch file into its dictionary; raise :class:`DatasetError` if unreadable."""
    # The CIFAR-10 python release is pickled dictionaries: that is the dataset's
    # own format. Checksums are verified before this runs unless verify=False.
    try:
        batch = pickle.loads(data, encoding="bytes")
    except Exception as err:
        raise DatasetError(f"{source}: not a readable CIFAR-10 pickle batch ({err})") from err
    if not isinstance(batch, dict):
        raise DatasetError(f"{source}: expected a pickled dict, found {type(batch).__name__}")
    return batch


def _decode_cifar_batch(
    batch: dict[bytes, Any], source: str, info: DatasetInfo
) -> tuple[np.ndarray, np.ndarray]:
    """Turn one unpickled batch into ``(images (N, C, H, W) uint8, labels int64)``."""
    for key in (b"data", b"labels"):
        if key not in batch:
            raise DatasetError(f"{source}: batch has no {key!r} entry (keys: {list(batch)})")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    pixels = int(np.prod(info.image_shape))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        raise DatasetError(
            f"{source}: expected uint8 data of shape (N, {pixels}), found {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],):
        raise DatasetError(f"{source}: expected {data.shape[0]} labels, found shape {labels.shape}")
    return data.reshape(-1, *info.image_shape), labels


def _decode_cifar_members(
    members: Mapping[str, bytes], source: str, info: DatasetInfo
) -> dict[str, np.ndarray]:
    """Decode the python batches (by base name) into the cached array layout."""
    needed = (*_CIFAR_TRAIN_BATCHES, "test_batch", "batches.meta")
    missing = [name for name in needed if name not in members]
    if missing:
        raise DatasetError(f"{source}: missing CIFAR-10 batch files {missing}")
    meta = _unpickle_batch(members["batches.meta"], f"{source}:batches.meta")
    if b"label_names" not in meta:
        raise DatasetError(f"{source}:batches.meta has no b'label_names' entry")
    label_names = [
        name.decode() if isinstance(name, bytes) else str(name) for name in meta[b"label_names"]
    ]
    decoded = [
        _decode_cifar_batch(_unpickle_batch(members[name], f"{source}:{name}"), name, info)
        for name in (*_CIFAR_TRAIN_BATCHES, "test_batch")
    ]
    train_images = np.concatenate([images for images, _ in decoded[:-1]])
    train_labels = np.concatenate([labels for _, labels in decoded[:-1]])
    test_images, test_labels = decoded[-1]
    return {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
        "label_names": np.asarray(label_names),
    }


def _read_cifar_archive(path: Path) -> dict[str, bytes]:
    """Read every batch file of a CIFAR-10 tarball in one sequential pass."""
    wanted = {*_CIFAR_TRAIN_BATCHES, "test_batch", "batches.meta"}
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one pass: xz/bz2 streams are slow to seek
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    handle = tar.extractfile(member)
                    assert handle is not None
                    members[base] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DatasetError(f"{path}: not a readable tar archive ({err})") from err
    return members


def _load_cifar_arrays(
    info: DatasetInfo, root: Path, verify: bool
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Load all CIFAR-10 arrays (from the cache when possible) and their source md5s."""
    location = _locate_cifar(info, root)
    if location.is_dir():
        members: dict[str, bytes] = {}
        source_md5: dict[str, str] = {}
        accepted = dict(info.member_md5)
        for name in (*_CIFAR_TRAIN_BATCHES, "test_batch", "batches.meta"):
            member_path = location / name
            if not member_path.is_file():
                raise FileNotFoundError(f"{member_path} not found; " + _how_to_get(info))
            members[name] = member_path.read_bytes()
            source_md5[name] = _md5_bytes(members[name])
            if verify and source_md5[name] not in accepted.get(name, ()):
                raise _unknown_md5(member_path, accepted.get(name, ()), source_md5[name])
        return _decode_cifar_members(members, str(location), info), source_md5

    archive_md5 = _md5_file(location)
    archive_accepted = info.file("archive").md5
    if verify and archive_md5 not in archive_accepted:
        raise _unknown_md5(location, archive_accepted, archive_md5)
    source_md5 = {location.name: archive_md5}
    cache_path = cache_dir() / f"{info.name}-{archive_md5}.npz"
    arrays = _read_cifar_cache(cache_path, archive_md5)
    if arrays is None:
        arrays = _decode_cifar_members(_read_cifar_archive(location), str(location), info)
        _write_cifar_cache(cache_path, arrays, archive_md5)
    return arrays, source_md5


def _write_cifar_cache(path: Path, arrays: Mapping[str, np.ndarray], archive_md5: str) -> None:
    """Store decoded arrays, uncompressed (fast to load), atomically; ignore a read-only cache."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            entries: dict[str, Any] = {
                "cache_version": np.int64(_CIFAR_CACHE_VERSION),
                "archive_md5": np.asarray(archive_md5),
                **arrays,
            }
            np.savez(handle, **entries)
    except OSError:  # an unwritable cache only costs speed
        return


def _read_cifar_cache(path: Path, archive_md5: str) -> dict[str, np.ndarray] | None:
    """Return the cached arrays, or ``None`` when absent, stale or unreadable."""
    if not path.is_file():
        return None
    keys = ("train_images", "train_labels", "test_images", "test_labels", "label_names")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if int(archive["cache_version"]) != _CIFAR_CACHE_VERSION:
                return None
            if str(archive["archive_md5"]) != archive_md5:
                return None
            return {key: archive[key] for key in keys}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
