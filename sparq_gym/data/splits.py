"""Splits of a dataset: the official test set, and the training set cut into ``fit`` and ``holdout``.

:func:`load_split` reads the official files (IDX or CIFAR-10) and returns an
:class:`ImageSplit`; :func:`holdout_indices` fixes which training images are
held out from backbone training; :func:`split_record` and
:func:`indices_sha256` describe a split for manifests, and :func:`source_note`
says what figures measured on a non-official copy of the files mean.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sparq_gym.data.cifar import _load_cifar_arrays
from sparq_gym.data.idx import _load_idx_source
from sparq_gym.data.registry import DATASETS, DatasetError, DatasetInfo, _get_info, data_root

__all__ = [
    "SPLITS",
    "SPLIT_RECORD_VERSION",
    "ImageSplit",
    "holdout_indices",
    "indices_sha256",
    "load_split",
    "source_note",
    "split_record",
]

SPLITS: tuple[str, ...] = ("test", "fit", "holdout", "train_full")
"""Split names accepted by :func:`load_split`."""

SPLIT_RECORD_VERSION = 1
"""Version of the dictionary written by :func:`split_record`."""


@dataclass(frozen=True)
class ImageSplit:
    """One split of a dataset, as arrays.

    :param images: ``uint8`` array ``(N, C, H, W)`` (MNIST-style: ``C=1``, 28x28;
        CIFAR-10: ``C=3``, 32x32).
    :param labels: ``int64`` array ``(N,)`` of class indices.
    :param indices: ``int64`` array ``(N,)``: index of each image in its source
        file (the official train set for ``fit``/``holdout``/``train_full``, the
        official test set for ``test``).
    :param info: the dataset's :class:`DatasetInfo`.
    :param source_md5: file name -> md5 of each file read (provenance).
    :param split: the split name (one of :data:`SPLITS`).
    :param holdout_size: hold-out size used to cut ``fit``/``holdout``.
    :param holdout_seed: seed of :func:`holdout_indices` used for the cut.
    """

    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    indices: NDArray[np.int64]
    info: DatasetInfo
    source_md5: dict[str, str]
    split: str = ""
    holdout_size: int = 0
    holdout_seed: int = 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def holdout_indices(n_train: int, holdout_size: int = 5000, seed: int = 0) -> np.ndarray:
    """Return the sorted indices of the training images held out from backbone training.

    The hold-out is a uniform random subset without replacement drawn by
    ``np.random.default_rng(seed).choice(n_train, holdout_size, replace=False)``
    and sorted, so it depends only on ``(n_train, holdout_size, seed)``. It is
    not stratified: class proportions match the training set in expectation
    (for 5,000 of MNIST's 60,000 images each class gets about 500 +- 21), which
    keeps the hold-out an honest sample of the data the policies will see; the
    exact class counts are recorded by :func:`split_record`. Raises
    ``ValueError`` when ``holdout_size`` is not in ``[0, n_train]``.
    """
    if n_train < 0:
        raise ValueError(f"n_train must be >= 0, got {n_train}")
    if not 0 <= holdout_size <= n_train:
        raise ValueError(f"holdout_size must be in [0, {n_train}] (n_train), got {holdout_size}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n_train, size=holdout_size, replace=False)
    return np.sort(chosen).astype(np.int64)


def _load_source(
    info: DatasetInfo, source: Literal["train", "test"], root: Path, verify: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Return ``(images, labels, source_md5)`` of the official train or test set."""
    if info.file_format == "idx":
        images, labels, source_md5 = _load_idx_source(info, source, root, verify)
    elif info.file_format == "cifar-python":
        arrays, source_md5 = _load_cifar_arrays(info, root, verify)
        names = tuple(str(name) for name in arrays["label_names"])
        if verify and names != info.class_names:
            raise DatasetError(
                f"{info.name}: batches.meta label names {names} differ from the expected "
                f"{info.class_names}"
            )
        images, labels = arrays[f"{source}_images"], arrays[f"{source}_labels"]
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown file format {info.file_format!r}")
    expected_n = info.n_train if source == "train" else info.n_test
    if verify and images.shape[0] != expected_n:
        raise DatasetError(
            f"{info.name} {source}: expected {expected_n} images, found {images.shape[0]}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= info.n_classes):
        raise DatasetError(
            f"{info.name} {source}: labels must lie in [0, {info.n_classes - 1}], "
            f"found [{labels.min()}, {labels.max()}]"
        )
    return images, labels.astype(np.int64, copy=False), source_md5


def load_split(
    dataset: str,
    split: str,
    root: str | os.PathLike[str] | None = None,
    *,
    holdout_size: int = 5000,
    holdout_seed: int = 0,
    verify: bool = True,
) -> ImageSplit:
    """Load one split of a dataset as ``uint8`` images, ``int64`` labels and source indices.

    ``split`` is ``"test"`` (the official test set), ``"train_full"`` (all of the
    official training set), ``"holdout"`` (``holdout_size`` training images
    picked by :func:`holdout_indices` with ``holdout_seed``: the images the
    ``train`` trace split comes from) or ``"fit"`` (the other training images:
    what the backbone is trained on). The data root is resolved by
    :func:`data_root`. Files are checked against the known md5 digests unless
    ``verify=False``. Raises ``KeyError`` for an unknown dataset,
    ``ValueError`` for an unknown split, ``FileNotFoundError`` (naming the
    paths looked at) for missing files and :class:`DatasetError` for corrupt
    ones. CIFAR-10 batches are pickles (the dataset's own format): with
    ``verify=False`` only load files from a source you trust.
    """
    info = _get_info(dataset)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
    source: Literal["train", "test"] = "test" if split == "test" else "train"
    images, labels, source_md5 = _load_source(info, source, data_root(root), verify)
    n = labels.shape[0]
    if split in ("test", "train_full"):
        indices = np.arange(n, dtype=np.int64)
    else:
        held = holdout_indices(n, holdout_size, holdout_seed)
        if split == "holdout":
            indices = held
        else:
            keep = np.ones(n, dtype=bool)
            keep[held] = False
            indices = np.flatnonzero(keep).astype(np.int64)
    if indices.shape[0] != n:  # a subset: copy out the selected rows
        images, labels = images[indices], labels[indices]
    return ImageSplit(
        images=np.ascontiguousarray(images, dtype=np.uint8),
        labels=np.ascontiguousarray(labels, dtype=np.int64),
        indices=indices,
        info=info,
        source_md5=dict(source_md5),
        split=split,
        holdout_size=holdout_size,
        holdout_seed=holdout_seed,
    )


def indices_sha256(indices: np.ndarray) -> str:
    """Return the sha256 of an index list, hashed as little-endian int64 bytes.

    This is the fingerprint :func:`split_record` stores: two splits with the
    same hash hold the same images in the same order.
    """
    return hashlib.sha256(np.ascontiguousarray(indices, dtype="<i8").tobytes()).hexdigest()


def source_note(record: Mapping[str, Any]) -> str | None:
    """What a reader of figures measured on the files of a :func:`split_record` must know.

    ``None`` for the official files; for a known non-official copy (the offline
    CIFAR-10 rebuilt from JPEG), a sentence saying how its figures compare.
    """
    info = DATASETS.get(str(record.get("dataset")))
    if info is None:
        return None
    notes = dict(info.copy_notes)
    for md5 in (record.get("source_md5") or {}).values():
        if md5 in notes:
            return notes[md5]
    return None


def split_record(split: ImageSplit) -> dict[str, Any]:
    """Describe where a split came from, as a JSON-able dictionary for manifests.

    Keys: ``record_version``, ``dataset``, ``split``, ``n``, ``source``
    (``"train"`` or ``"test"``: the official file the indices refer to),
    ``holdout_size`` and ``holdout_seed`` (``None`` for ``test`` and
    ``train_full``, which do not depend on them), ``indices_sha256``
    (:func:`indices_sha256`), ``label_counts`` (images per class) and
    ``source_md5`` (file name -> md5 of the files read).
    """
    uses_holdout = split.split in ("fit", "holdout")
    counts = np.bincount(split.labels, minlength=split.info.n_classes)
    return {
        "record_version": SPLIT_RECORD_VERSION,
        "dataset": split.info.name,
        "split": split.split,
        "n": len(split),
        "source": "test" if split.split == "test" else "train",
        "holdout_size": int(split.holdout_size) if uses_holdout else None,
        "holdout_seed": int(split.holdout_seed) if uses_holdout else None,
        "indices_sha256": indices_sha256(split.indices),
        "label_counts": [int(c) for c in counts],
        "source_md5": dict(sorted(split.source_md5.items())),
    }
