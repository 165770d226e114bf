"""Download a dataset's published files from its mirrors, keeping only files with a known md5."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from sparq_gym.data.checksums import _md5_bytes, _md5_file
from sparq_gym.data.idx import _read_maybe_gzip
from sparq_gym.data.registry import DataFile, DatasetError, _get_info, data_root
from sparq_gym.io import atomic_path

__all__ = ["download"]


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
