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

Modules
    :mod:`~sparq_gym.data.registry` (the datasets, their files and md5s, the
    data root), :mod:`~sparq_gym.data.checksums`, :mod:`~sparq_gym.data.idx`,
    :mod:`~sparq_gym.data.cifar`, :mod:`~sparq_gym.data.splits`,
    :mod:`~sparq_gym.data.pixels` (the one pixel normalisation) and
    :mod:`~sparq_gym.data.download`.
"""

from __future__ import annotations

from sparq_gym.data.download import download
from sparq_gym.data.idx import read_idx
from sparq_gym.data.pixels import normalize, normalize_pixels
from sparq_gym.data.registry import DATASETS, DataFile, DatasetError, DatasetInfo, cache_dir, data_root
from sparq_gym.data.splits import (
    SPLIT_RECORD_VERSION,
    SPLITS,
    ImageSplit,
    holdout_indices,
    indices_sha256,
    load_split,
    source_note,
    split_record,
)

__all__ = [
    "DATASETS",
    "SPLITS",
    "SPLIT_RECORD_VERSION",
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
    "normalize_pixels",
    "read_idx",
    "source_note",
    "split_record",
]
