"""md5 digests of dataset files, and the error raised when a digest is not a known one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from sparq_gym.data.registry import DatasetError


def _md5_bytes(data: bytes) -> str:
    """Hex md5 digest of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex md5 digest of the file at ``path``, read in chunks of ``chunk_size`` bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unknown_md5(path: Path, expected: Sequence[str], actual: str, extra: str = "") -> DatasetError:
    """The error for a file whose md5 ``actual`` is none of ``expected``, naming the file and both."""
    return DatasetError(
        f"{path}: md5 {actual} is not a known checksum of this file "
        f"(expected one of: {', '.join(expected)}){extra}; the file may be corrupt or a "
        f"different release: download it again, or skip the check (only for a copy you trust) "
        f"with --no-verify on the command line (verify=False in Python)"
    )
