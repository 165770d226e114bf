"""Image datasets for the backbones: MNIST-style IDX files and CIFAR-10 python batches.

This is the first stage of the pipeline (dataset -> backbone -> traces). It reads
the datasets in their own published formats with numpy only, checks every file
against known md5 checksums, and cuts the official training set into a ``fit``
part (backbone training) and a fixed, seeded ``holdout`` part (the images the
``train`` trace split is extracted from, spec §4).

Data root
    ``root`` argument, else the ``SPARQ_DATA`` environment variable, else
    ``<repo>/../shared/data`` when that folder exists, else
    ``~/.cache/sparq_gym/data`` (under ``SPARQ_CACHE`` when it is set). Layout::

        <root>/mnist/train-images-idx3-ubyte.gz      (or the uncompressed file)
        <root>/mnist/train-labels-idx1-ubyte.gz
        <root>/mnist/t10k-images-idx3-ubyte.gz
        <root>/mnist/t10k-labels-idx1-ubyte.gz
        <root>/fashion-mnist/...  <root>/kmnist/...  (same four names)
        <root>/cifar10/cifar-10-python.tar.gz        (or .tar.xz, .tar.bz2, .tar)
        <root>/cifar10/cifar-10-batches-py/          (or the unpacked folder)

Checksums
    Every :class:`DataFile` lists the md5 digests it accepts. An IDX file passes
    when the md5 of the file as stored is known, or when the md5 of its
    uncompressed content is the canonical one (a re-gzipped copy of the
    canonical file passes; so does an uncompressed copy). A file with an unknown
    md5 raises :class:`DatasetError` naming the file and both digests;
    ``verify=False`` skips the checks.

Cache
    Decoding the CIFAR-10 archive (about 16 s for the 150 MB ``.tar.xz``) is done
    once: the decoded arrays are stored in ``<cache>/cifar10-<md5 of archive>.npz``
    (``<cache>`` is ``SPARQ_CACHE`` or ``~/.cache/sparq_gym``), never in the
    repository. A changed archive has a new md5 and therefore a new cache file.

Splits (:func:`load_split`)
    ``test``: the official test set; ``train_full``: all of the official
    training set; ``holdout``: ``holdout_size`` training images chosen by
    :func:`holdout_indices`; ``fit``: the rest of the training set. ``fit`` and
    ``holdout`` are disjoint and together make ``train_full``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sparq_gym.io import atomic_path

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataFile",
    "DatasetError",
    "DatasetInfo",
    "ImageSplit",
    "cache_dir",
    "data_root",
    "download",
    "holdout_indices",
    "indices_sha256",
    "load_split",
    "normalize",
    "read_idx",
    "source_note",
    "split_record",
]

SPLITS: tuple[str, ...] = ("test", "fit", "holdout", "train_full")
"""Split names accepted by :func:`load_split`."""

SPLIT_RECORD_VERSION = 1
"""Version of the dictionary written by :func:`split_record`."""


class DatasetError(ValueError):
    """A dataset file is malformed, truncated, or has an unknown checksum."""


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, as published.

    :param role: what the file holds: ``train_images``, ``train_labels``,
        ``test_images``, ``test_labels`` (IDX datasets) or ``archive`` (CIFAR-10).
    :param name: file name under ``<root>/<dataset directory>`` and on the mirrors.
    :param md5: accepted md5 digests of the file as stored (the first one is the
        published download; others are known good copies).
    :param content_md5: md5 of the uncompressed content of a gzip file, or
        ``None`` when unknown; a copy whose content has this digest is accepted.
    """

    role: str
    name: str
    md5: tuple[str, ...]
    content_md5: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """Everything the loaders and the trainer need to know about one dataset.

    :param name: key in :data:`DATASETS` (``"mnist"``, ``"cifar10"``, ...).
    :param directory: sub-folder of the data root holding the files.
    :param file_format: ``"idx"`` (four gzip IDX files) or ``"cifar-python"``
        (a tarball of pickled batches).
    :param mirrors: base URLs tried in order by :func:`download`; a file's URL
        is the base followed by its name.
    :param files: the published files with their accepted md5 digests.
    :param image_shape: ``(C, H, W)`` of one image.
    :param class_names: class names in label order.
    :param mean: per-channel mean of the pixels scaled to [0, 1] (training set).
    :param std: per-channel standard deviation of the same pixels.
    :param n_train: number of images in the official training set.
    :param n_test: number of images in the official test set.
    :param member_md5: for CIFAR-10 only: accepted md5 digests of the files of
        an unpacked ``cifar-10-batches-py/`` folder, by file name.
    :param copy_notes: md5 of an accepted but non-official copy -> what figures
        measured on it mean (:func:`source_note`).
    """

    name: str
    directory: str
    file_format: Literal["idx", "cifar-python"]
    mirrors: tuple[str, ...]
    files: tuple[DataFile, ...]
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    n_train: int
    n_test: int
    member_md5: tuple[tuple[str, tuple[str, ...]], ...] = ()
    copy_notes: tuple[tuple[str, str], ...] = ()

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def file(self, role: str) -> DataFile:
        """Return the file that plays ``role``; raise ``KeyError`` naming the known roles."""
        for data_file in self.files:
            if data_file.role == role:
                return data_file
        known = ", ".join(f.role for f in self.files)
        raise KeyError(f"dataset {self.name!r} has no file with role {role!r} (known: {known})")


def _idx_files(
    md5s: Mapping[str, str], content_md5s: Mapping[str, str] | None = None
) -> tuple[DataFile, ...]:
    """Build the four :class:`DataFile` entries of an MNIST-style dataset."""
    names = {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte.gz",
    }
    content_md5s = content_md5s or {}
    return tuple(
        DataFile(role, name, (md5s[role],), content_md5s.get(role)) for role, name in names.items()
    )


_CIFAR_MEMBER_MD5: tuple[tuple[str, str, str], ...] = (
    # file in cifar-10-batches-py/, md5 in the official release, md5 in the offline .tar.xz copy
    ("data_batch_1", "c99cafc152244af753f735de768cd75f", "ba87002d8a47bfd94e842161a72b0292"),
    ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec", "43bccf19392c67a24c50ddc9665d6a34"),
    ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751", "a4154761937c2cb823e489097b217cb4"),
    ("data_batch_4", "634d18415352ddfa80567beed471001a", "4ce12c90f96f8a0af3ea6744146e5c22"),
    ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb", "6a6d757a92b9270281b545ce56805e23"),
    ("test_batch", "40351d587109b95175f43aff81a1287e", "641d8af8cfc6afe816468dd31f7f038b"),
    ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888", "8a1c76bca3f0ea0f7eb8d708d56f6da3"),
)


_CIFAR_COPY_NOTE = (
    "CIFAR-10 read from a copy rebuilt from a JPEG copy of the dataset (labels canonical, pixels "
    "slightly different): accuracy on it is close to, not identical with, official CIFAR-10"
)

# Published md5 digests: MNIST, Fashion-MNIST and KMNIST as listed by their
# distributors (and used by torchvision); the uncompressed MNIST digests and the
# extra MNIST/CIFAR-10 digests are those of the offline copies described in
# shared/data/README.md (train-images re-gzipped; CIFAR-10 re-packed as .tar.xz).
DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        directory="mnist",
        file_format="idx",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        files=(
            DataFile(
                "train_images",
                "train-images-idx3-ubyte.gz",
                ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "56f11203c65dcbeead45b51e76a4d637"),
                "6bbc9ace898e44ae57da46a324031adb",
            ),
            DataFile(
                "train_labels",
                "train-labels-idx1-ubyte.gz",
                ("d53e105ee54ea40749a09fcbcd1e9432",),
                "a25bea736e30d166cdddb491f175f624",
            ),
            DataFile(
                "test_images",
                "t10k-images-idx3-ubyte.gz",
                ("9fb629c4189551a2d022fa330f9573f3",),
                "2646ac647ad5339dbf082846283269ea",
            ),
            DataFile(
                "test_labels",
                "t10k-labels-idx1-ubyte.gz",
                ("ec29112dd5afa0611ce80d1b7f02629c",),
                "27ae3e4e09519cfbb04c329615203637",
            ),
        ),
        image_shape=(1, 28, 28),
        class_names=tuple(str(digit) for digit in range(10)),
        mean=(0.1307,),
        std=(0.3081,),
        n_train=60_000,
        n_test=10_000,
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        directory="fashion-mnist",
        file_format="idx",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=_idx_files(
            {
                "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
                "test_images": "bef4ecab320f06d8554ea6380940ec79",
                "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
            }
        ),
        image_shape=(1, 28, 28),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        mean=(0.2860,),
        std=(0.3530,),
        n_train=60_000,
        n_test=10_000,
    ),
    "kmnist": DatasetInfo(
        name="kmnist",
        directory="kmnist",
        file_format="idx",
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        files=_idx_files(
            {
                "train_images": "bdb82020997e1d708af4cf47b453dcf7",
                "train_labels": "e144d726b3acfaa3e44228e80efcd344",
                "test_images": "5c965bf0a639b31b8f53240b1b52f4d7",
                "test_labels": "7320c461ea6c1c855c0b718fb2a4b134",
            }
        ),
        image_shape=(1, 28, 28),
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        mean=(0.1918,),
        std=(0.3483,),
        n_train=60_000,
        n_test=10_000,
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        directory="cifar10",
        file_format="cifar-python",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(
            DataFile(
                "archive",
                "cifar-10-python.tar.gz",
                ("c58f30108f718f92721af3b95e74349a", "edb4b12e859ec496decc94754a47b5be"),
            ),
        ),
        image_shape=(3, 32, 32),
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        n_train=50_000,
        n_test=10_000,
        member_md5=tuple((name, (official, copy)) for name, official, copy in _CIFAR_MEMBER_MD5),
        copy_notes=tuple(
            (md5, _CIFAR_COPY_NOTE)
            for md5 in ("edb4b12e859ec496decc94754a47b5be", *(c for _, _, c in _CIFAR_MEMBER_MD5))
        ),
    ),
}
"""The datasets this module can read, by name."""

_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
_CIFAR_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
_CIFAR_CACHE_VERSION = 1

# IDX dtype codes (byte 3 of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


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


# --------------------------------------------------------------------------- paths


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Return the user cache folder: ``$SPARQ_CACHE`` when set, else ``~/.cache/sparq_gym``.

    The folder is not created here; writers create it when they first store
    something. Nothing this module caches is ever written inside the repository.
    """
    env = os.environ.get("SPARQ_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sparq_gym"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the folder that holds the datasets.

    Order: the ``root`` argument, the ``SPARQ_DATA`` environment variable,
    ``<repo>/../shared/data`` when it exists (the offline copies of this
    project's workspace), and finally ``<cache_dir()>/data`` (where
    :func:`download` puts files by default). The path is returned whether or
    not it exists; loaders raise ``FileNotFoundError`` for missing files.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("SPARQ_DATA")
    if env:
        return Path(env).expanduser()
    shared = _repo_root().parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return cache_dir() / "data"


def _get_info(dataset: str) -> DatasetInfo:
    try:
        return DATASETS[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise KeyError(f"unknown dataset {dataset!r}; expected one of: {known}") from None


def _how_to_get(info: DatasetInfo) -> str:
    return (
        f"get it with sparq_gym.data.download({info.name!r}, root) on a machine with a "
        f"network, or point SPARQ_DATA (or the root argument) at a folder holding "
        f"{info.directory}/"
    )


# --------------------------------------------------------------------------- checksums


def _md5_bytes(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unknown_md5(path: Path, expected: Sequence[str], actual: str, extra: str = "") -> DatasetError:
    return DatasetError(
        f"{path}: md5 {actual} is not a known checksum of this file "
        f"(expected one of: {', '.join(expected)}){extra}; the file may be corrupt or a "
        f"different release: download it again, or pass verify=False to skip the check"
    )


# --------------------------------------------------------------------------- IDX


def _is_gzip(data: bytes) -> bool:
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


# --------------------------------------------------------------------------- CIFAR-10


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


# --------------------------------------------------------------------------- splits


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


def normalize(images_uint8: np.ndarray, info: DatasetInfo) -> NDArray[np.float32]:
    """Scale ``uint8`` images to float32 ``(x / 255 - mean) / std`` per channel.

    ``images_uint8`` has the channel axis third from the end: ``(N, C, H, W)``
    or ``(C, H, W)`` with ``C`` equal to ``len(info.mean)``. The mean and std
    are the dataset's published per-channel statistics of the training pixels
    scaled to [0, 1].
    """
    images = np.asarray(images_uint8)
    channels = len(info.mean)
    if images.ndim < 3 or images.shape[-3] != channels:
        raise ValueError(
            f"expected images with {channels} channel(s) on axis -3, e.g. (N, {channels}, H, W), "
            f"got shape {images.shape}"
        )
    mean = np.asarray(info.mean, dtype=np.float32).reshape(channels, 1, 1)
    std = np.asarray(info.std, dtype=np.float32).reshape(channels, 1, 1)
    return ((images.astype(np.float32) / np.float32(255.0) - mean) / std).astype(np.float32)


# --------------------------------------------------------------------------- download


def _check_downloaded(path: Path, data_file: DataFile, shown_as: str) -> str:
    """Check a downloaded file's md5 (stored, or uncompressed content); return the stored md5."""
    stored_md5 = _md5_file(path)
    if stored_md5 in data_file.md5:
        return stored_md5
    if data_file.content_md5 is not None:
        _, content = _read_maybe_gzip(path)
        if _md5_bytes(content) == data_file.content_md5:
            return stored_md5
    raise DatasetError(
        f"{shown_as}: md5 {stored_md5} is not a known checksum of {data_file.name} "
        f"(expected one of: {', '.join(data_file.md5)}); the download is corrupt or the "
        f"mirror serves a different file"
    )


def _fetch(url: str, target: Path, data_file: DataFile, timeout: float) -> None:
    """Download ``url`` to ``target`` atomically; the file appears only if its md5 is known."""
    with atomic_path(target) as tmp:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        _check_downloaded(tmp, data_file, url)


def download(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the published files of dataset ``name`` into ``<root>/<directory>/``.

    Each file is fetched from the dataset's mirrors in order (URL = mirror +
    file name) with ``urllib``, written atomically, and kept only when its md5
    is one of the accepted digests; a file already present with a known md5 is
    not fetched again unless ``force``. ``root`` defaults to :func:`data_root`.
    Returns the dataset folder. Raises ``DatasetError`` when every mirror failed
    or served a file with an unknown md5, naming the URLs and the errors.
    """
    info = _get_info(name)
    folder = data_root(root) / info.directory
    folder.mkdir(parents=True, exist_ok=True)
    for data_file in info.files:
        target = folder / data_file.name
        if target.is_file() and not force:
            try:
                _check_downloaded(target, data_file, str(target))
                continue
            except DatasetError:
                pass  # a stale or corrupt copy: fetch it again
        errors: list[str] = []
        for mirror in info.mirrors:
            url = mirror.rstrip("/") + "/" + data_file.name
            try:
                _fetch(url, target, data_file, timeout)
                break
            except (OSError, DatasetError) as err:  # URLError is an OSError
                errors.append(f"{url}: {err}")
        else:
            raise DatasetError(
                f"could not download {data_file.name} of {name}: " + "; ".join(errors)
            )
    return folder
