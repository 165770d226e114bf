"""Atomic file writes, atomic output folders, output checks and checksums.

Every artifact the project writes (traces, manifests, checkpoints, Q-tables,
reports) goes through these helpers, so a crash or a full disk never leaves a
half-written file under the final name: data is written to a temporary file in
the same directory, flushed to disk, then renamed over the target.

Outputs of several files that belong together (a saved policy and its learning
curve, a benchmark's leaderboard and results) are written into a temporary
folder beside the target and renamed into place as a unit
(:func:`atomic_directory`): an interrupted run leaves the previous output
intact, or nothing. :func:`check_output_dir` checks an output location before
the work starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from sparq_gym.errors import OutputError

# The process umask, read once (setting it to read it is not thread-safe).
_UMASK = os.umask(0o022)
os.umask(_UMASK)

__all__ = [
    "atomic_directory",
    "atomic_files",
    "atomic_path",
    "atomic_save_npz",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "read_json",
    "sha256_file",
]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The caller writes the complete file to the yielded path. If the block
    raises, the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the usual umask-based mode.
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_with(target: str | os.PathLike[str], mode: str, writer: Any) -> None:
    with atomic_path(target) as tmp, open(tmp, mode) as handle:
        writer(handle)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    _write_with(target, "wb", lambda handle: handle.write(data))


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats replaced by ``None``, so it is strict JSON."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, dict):
        return {key: json_safe(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(value) for value in obj]
    return obj


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted, strict JSON (NaN -> null) to ``target`` atomically."""
    text = json.dumps(json_safe(obj), indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"
    atomic_write_text(target, text)


def atomic_save_npz(target: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """Save ``arrays`` as a compressed ``.npz`` archive at ``target`` atomically."""

    members: dict[str, Any] = dict(arrays)

    def writer(handle: IO[bytes]) -> None:
        np.savez_compressed(handle, **members)

    _write_with(target, "wb", writer)


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, raising ``ValueError`` that names the file when it is malformed.

    A file that is not UTF-8 is malformed too; a folder under the name raises
    ``IsADirectoryError`` (an ``OSError`` that names the path).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    except UnicodeDecodeError as err:
        reason = f"not UTF-8 text: {err.reason} at byte {err.start}"
        raise ValueError(f"{path}: not valid JSON ({reason})") from err



def read_json_object(path: Path, error: type[Exception]) -> dict[str, Any]:
    """Read a JSON file that must hold one object; any problem raises ``error`` naming the file."""
    try:
        record = read_json(path)
    except ValueError as err:
        raise error(str(err)) from err
    if not isinstance(record, dict):
        raise error(f"{path}: expected a JSON object, got {type(record).__name__} {record!r:.60}")
    return record

def check_output_dir(target: str | os.PathLike[str], argument: str = "--out") -> Path:
    """Check that the folder ``target`` can be created or written; raise :class:`OutputError` if not.

    Called before the work starts, so that a bad ``--out`` fails at once: ``target``
    must not be a file, no folder above it may be a file, and the nearest existing
    folder must be writable. ``argument`` names the option in the message.
    """
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{argument} {str(target)!r}: is a file, expected a folder (new or existing)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputError(
            f"{argument} {str(target)!r}: {existing} is a file, so no folder can be made under it"
        )
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{argument} {str(target)!r}: {existing} is not writable")
    return path


def check_output_file(target: str | os.PathLike[str], argument: str = "--out") -> Path:
    """Check that the file ``target`` can be written (its folder with :func:`check_output_dir`)."""
    path = Path(target)
    if path.is_dir():
        raise OutputError(f"{argument} {str(target)!r}: is a folder, expected a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{argument} {str(target)!r}: the file is not writable")
    check_output_dir(path.parent, argument=f"{argument} {str(target)!r}: its folder")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Clean up after runs that were killed (their process is gone) while writing ``parent/name``.

    A previous output moved aside just before the kill is put back when nothing took its
    place; every other leftover temporary folder is removed.
    """
    for leftover in sorted(parent.glob(f".{name}.*.tmp"), key=lambda p: not p.name.endswith(".old.tmp")):
        pid = leftover.name[len(name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        if leftover.name.endswith(".old.tmp") and not (parent / name).exists():
            os.replace(leftover, parent / name)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` as a unit.

    The caller writes every file of the output into the yielded folder. When the
    block ends normally the previous ``target`` (if any) is moved aside, the new
    folder renamed onto ``target`` and the old one removed; when it raises (or the
    run is interrupted) the temporary folder is removed and ``target`` is left as it
    was. Temporary folders of killed runs (``.NAME.<pid>.*.tmp``) are removed on the
    next call. ``target`` is checked with :func:`check_output_dir` first.
    """
    target = check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        old = tmp.with_name(tmp.name[: -len(".tmp")] + ".old.tmp")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_files(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder inside ``directory``; on success its files are renamed into ``directory``.

    For outputs of several files that share a folder with other files (``sparq report``
    writes into ``docs/``), where :func:`atomic_directory` would replace the whole folder.
    Nothing is renamed until every file is written, so an interrupted run leaves the
    previous files intact; the renames themselves take microseconds. When the block
    raises, the temporary folder is removed.
    """
    directory = check_output_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale(directory, "staging")
    tmp = Path(tempfile.mkdtemp(prefix=f".staging.{os.getpid()}.", suffix=".tmp", dir=directory))
    try:
        yield tmp
        for path in sorted(tmp.iterdir()):
            os.replace(path, directory / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
