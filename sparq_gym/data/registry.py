"""The dataset registry: what each dataset is, where its files live, which md5s it accepts.

:data:`DATASETS` maps a name (``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``,
``"cifar10"``) to a :class:`DatasetInfo`: its published files
(:class:`DataFile`) with their accepted md5 digests, the mirrors
:func:`~sparq_gym.data.download` tries, the image shape, the class names and
the per-channel pixel statistics. :func:`data_root` and :func:`cache_dir`
resolve the folders the readers use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sparq_gym.errors import DatasetError

__all__ = ["DATASETS", "DataFile", "DatasetError", "DatasetInfo", "cache_dir", "data_root"]


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


_IDX_FILE_NAMES: tuple[tuple[str, str], ...] = (
    # role, file name (the same four names for every MNIST-style dataset)
    ("train_images", "train-images-idx3-ubyte.gz"),
    ("train_labels", "train-labels-idx1-ubyte.gz"),
    ("test_images", "t10k-images-idx3-ubyte.gz"),
    ("test_labels", "t10k-labels-idx1-ubyte.gz"),
)

_IDX_MD5: tuple[tuple[str, str, str, str | None], ...] = (
    # dataset, role, md5 of the published .gz file, md5 of its uncompressed content (None: unknown)
    ("mnist", "train_images", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
    ("mnist", "train_labels", "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
    ("mnist", "test_images", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
    ("mnist", "test_labels", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    # Fashion-MNIST's content digests: the md5 of the decompressed official files as published
    # beside the .gz digests in public dataset loaders; the labels' were recomputed here from
    # zalandoresearch/fashion-mnist's own data/fashion/*-labels-idx1-ubyte.gz. Debian's
    # dataset-fashion-mnist (0.0~git20200523.55506a9-1, re-gzipped) decompresses to all four.
    ("fashion-mnist", "train_images", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    ("fashion-mnist", "train_labels", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    ("fashion-mnist", "test_images", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    ("fashion-mnist", "test_labels", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
    ("kmnist", "train_images", "bdb82020997e1d708af4cf47b453dcf7", None),
    ("kmnist", "train_labels", "e144d726b3acfaa3e44228e80efcd344", None),
    ("kmnist", "test_images", "5c965bf0a639b31b8f53240b1b52f4d7", None),
    ("kmnist", "test_labels", "7320c461ea6c1c855c0b718fb2a4b134", None),
)

_IDX_COPY_MD5: dict[tuple[str, str], tuple[str, ...]] = {
    # (dataset, role) -> md5 of known good copies besides the published file
    ("mnist", "train_images"): ("56f11203c65dcbeead45b51e76a4d637",),  # re-gzipped offline copy
}


def _idx_dataset(
    name: str,
    mirrors: tuple[str, ...],
    class_names: tuple[str, ...],
    mean: float,
    std: float,
) -> DatasetInfo:
    """Build the entry of an MNIST-style dataset from the checksum tables above.

    Every such dataset is four gzip IDX files (:data:`_IDX_FILE_NAMES`) in a
    folder named like the dataset, of 28x28 grey images: 60,000 for training
    and 10,000 for testing.
    """
    rows = {role: (md5, content_md5) for key, role, md5, content_md5 in _IDX_MD5 if key == name}
    files = tuple(
        DataFile(role, file_name, (rows[role][0], *_IDX_COPY_MD5.get((name, role), ())), rows[role][1])
        for role, file_name in _IDX_FILE_NAMES
    )
    return DatasetInfo(
        name=name,
        directory=name,
        file_format="idx",
        mirrors=mirrors,
        files=files,
        image_shape=(1, 28, 28),
        class_names=class_names,
        mean=(mean,),
        std=(std,),
        n_train=60_000,
        n_test=10_000,
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

_CIFAR10 = DatasetInfo(
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
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
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
)

# Published md5 digests: MNIST, Fashion-MNIST and KMNIST as listed by their
# distributors (and used by torchvision); the uncompressed MNIST digests and the
# extra MNIST/CIFAR-10 digests are those of the offline copies described in
# shared/data/README.md (train-images re-gzipped; CIFAR-10 re-packed as .tar.xz).
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _idx_dataset(
            "mnist",
            ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
            tuple(str(digit) for digit in range(10)),
            mean=0.1307,
            std=0.3081,
        ),
        _idx_dataset(
            "fashion-mnist",
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            mean=0.2860,
            std=0.3530,
        ),
        _idx_dataset(
            "kmnist",
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            mean=0.1918,
            std=0.3483,
        ),
        _CIFAR10,
    )
}
"""The datasets this module can read, by name."""


# --------------------------------------------------------------------------- paths


def _repo_root() -> Path:
    """The checkout this package is imported from (``sparq_gym/data/`` is two levels down)."""
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
    """Return ``DATASETS[dataset]``; raise ``KeyError`` naming the known datasets."""
    try:
        return DATASETS[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise KeyError(f"unknown dataset {dataset!r}; expected one of: {known}") from None


def _how_to_get(info: DatasetInfo) -> str:
    """The hint, appended to a missing-file error, on how to get the dataset's files."""
    return (
        f"get it with sparq_gym.data.download({info.name!r}, root) on a machine with a "
        f"network, or point SPARQ_DATA (or the root argument) at a folder holding "
        f"{info.directory}/"
    )
