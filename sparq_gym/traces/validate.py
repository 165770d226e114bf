"""Checks of trace arrays and manifests: shape and dtype, and meaning.

A trace that is well-formed but wrong (counts that shrink along the exits,
probabilities that do not sum to one, counter names swapped, a split file
outside its directory) would replay without complaint and give a wrong score,
so :class:`~sparq_gym.traces.traceset.TraceSet` runs every check here when it
is built or loaded, and each failure is a :class:`~sparq_gym.errors.TraceError`
that names the file, the field, the value found and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sparq_gym.checks import is_integer
from sparq_gym.errors import TraceError, TraceNotFoundError

__all__ = [
    "ARRAY_DTYPES",
    "COUNTER_NAMES",
    "MAX_COUNT",
    "PROB_SUM_TOLERANCE",
    "check_manifest",
    "check_names",
    "loaded_container",
    "split_file",
    "validate_arrays",
]

T = TypeVar("T")

COUNTER_NAMES: tuple[str, ...] = ("macs", "synaptic_ops", "spikes", "lif_ops", "mem_bytes")
"""Per-sample counters (spec §3), in the order of the last axis of the count arrays.

``macs``: multiply-accumulates (ANN layers, and the first layer of a spiking
network fed with analog pixels); ``synaptic_ops``: accumulates triggered by
spikes (each spike costs its fan-out); ``spikes``: raw spike count (paper
Eq. 8); ``lif_ops``: neurons evaluated x timesteps x 2 (paper Eq. 9);
``mem_bytes``: bytes of weights, membrane potentials and spikes moved.
"""

ARRAY_DTYPES: dict[str, tuple[str, ...]] = {
    "labels": ("uint8", "int16", "int32", "int64"),
    "sample_ids": ("int32", "int64"),
    "probs": ("float16", "float32"),
    "exit_counts": ("int64",),
    "full_counts": ("int64",),
}

PROB_SUM_TOLERANCE = 0.01
"""How far from 1 the probabilities of one head may sum: float16 rounds each of C values by up
to 2**-11 of itself, so the shipped traces stay within 4e-4; a sum off by more is not a softmax."""

MAX_COUNT = 2**53
"""Largest count accepted (about 9e15, 30 million times AlexNet's): float64 holds every count
below it exactly, and sums of counters (``total_ops``) cannot overflow int64."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def validate_arrays(arrays: Mapping[str, Any], source: str) -> None:
    """Check dtypes, shapes and meaning of a split's arrays; raise :class:`TraceError` naming ``source``."""
    for name, allowed in ARRAY_DTYPES.items():
        value = arrays[name]
        if not isinstance(value, np.ndarray):
            raise TraceError(f"{source}: {name} must be a numpy array, got {type(value).__name__}")
        if value.dtype.name not in allowed:
            raise TraceError(f"{source}: {name} has dtype {value.dtype}, expected one of {list(allowed)}")
    _check_shapes(arrays, source)
    labels, probs = arrays["labels"], arrays["probs"]
    exit_counts, full_counts = arrays["exit_counts"], arrays["full_counts"]
    n, n_classes = labels.shape[0], probs.shape[2]
    if n == 0:
        raise TraceError(f"{source}: the split holds 0 samples, expected at least 1")
    if labels.min() < 0 or labels.max() >= n_classes:
        found = f"[{labels.min()}, {labels.max()}]"
        raise TraceError(f"{source}: labels must lie in [0, {n_classes}), got {found}")
    if not (np.isfinite(probs).all() and probs.min() >= 0 and probs.max() <= 1 + PROB_SUM_TOLERANCE):
        raise TraceError(f"{source}: probs must be finite probabilities in [0, 1]")
    error = np.abs(probs.astype(np.float64).sum(axis=2) - 1.0)
    if error.max() > PROB_SUM_TOLERANCE:
        sample, head = np.unravel_index(int(error.argmax()), error.shape)
        raise TraceError(
            f"{source}: probs of sample {sample}, exit {head} sum to {1 + float(error.max()):.4g} (or "
            f"{1 - float(error.max()):.4g}); every head's probabilities must sum to 1 within "
            f"{PROB_SUM_TOLERANCE}"
        )
    for name, counts in (("exit_counts", exit_counts), ("full_counts", full_counts)):
        if counts.size and (counts.min() < 0 or counts.max() >= MAX_COUNT):
            raise TraceError(
                f"{source}: {name} must lie in [0, 2**53), got [{counts.min()}, {counts.max()}]"
            )
    steps = np.diff(exit_counts, axis=1)
    if steps.size and steps.min() < 0:
        sample, step, counter = np.unravel_index(int(steps.argmin()), steps.shape)
        raise TraceError(
            f"{source}: exit_counts must be cumulative (non-decreasing along the exits); sample "
            f"{sample}, counter {counter}: exit {step + 1} has {exit_counts[sample, step + 1, counter]} "
            f"< exit {step}'s {exit_counts[sample, step, counter]}"
        )


def _check_shapes(arrays: Mapping[str, np.ndarray], source: str) -> None:
    labels, probs = arrays["labels"], arrays["probs"]
    exit_counts, full_counts = arrays["exit_counts"], arrays["full_counts"]
    if labels.ndim != 1:
        raise TraceError(f"{source}: labels must have shape (N,), got {labels.shape}")
    n = labels.shape[0]
    if probs.ndim != 3 or probs.shape[0] != n:
        raise TraceError(f"{source}: probs must have shape (N={n}, E, C), got {probs.shape}")
    _, n_exits, n_classes = probs.shape
    if n_exits < 2 or n_classes < 2:
        raise TraceError(
            f"{source}: probs has {n_exits} exit(s) and {n_classes} class(es); at least one early "
            "exit and the final head, and two classes, are needed"
        )
    if exit_counts.ndim == 3 and exit_counts.shape[1] == n_classes != n_exits:
        raise TraceError(
            f"{source}: probs has shape {probs.shape}, expected (N, E, C); exit_counts has E="
            f"{exit_counts.shape[1]} exits, so probs looks transposed (N, C, E): store it as "
            "probs[sample, exit, class]"
        )
    if exit_counts.ndim != 3 or exit_counts.shape[:2] != (n, n_exits) or exit_counts.shape[2] < 1:
        raise TraceError(
            f"{source}: exit_counts must have shape (N={n}, E={n_exits}, K>=1), got {exit_counts.shape}"
        )
    if full_counts.shape != (n, exit_counts.shape[2]):
        raise TraceError(
            f"{source}: full_counts must have shape (N={n}, K={exit_counts.shape[2]}), "
            f"got {full_counts.shape}"
        )
    if arrays["sample_ids"].shape != (n,):
        raise TraceError(f"{source}: sample_ids must have shape (N={n},), got {arrays['sample_ids'].shape}")


def _string_list(meta: Mapping[str, Any], key: str, length: int, source: str) -> None:
    value = meta[key]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TraceError(f"{source}: {key} must be a list of strings, got {value!r}")
    if len(value) != length:
        raise TraceError(
            f"{source}: {key} lists {len(value)} names ({list(value)}), the arrays have {length}"
        )
    if len(set(value)) != len(value):
        raise TraceError(f"{source}: {key} must be distinct names, got {list(value)}")


def check_names(meta: Mapping[str, Any], n_exits: int, n_classes: int, n_counters: int, source: str) -> None:
    """Check that the counter, exit and class names of ``meta`` fit the arrays' K, E and C.

    The known counters (:data:`COUNTER_NAMES`) must keep their order: the format defines
    that order, so a manifest that lists them in another one has its names swapped.
    """
    for key, length in (("counters", n_counters), ("exit_names", n_exits), ("class_names", n_classes)):
        if key in meta:
            _string_list(meta, key, length, source)
    known = [name for name in meta.get("counters", COUNTER_NAMES) if name in COUNTER_NAMES]
    if known != sorted(known, key=COUNTER_NAMES.index):
        raise TraceError(
            f"{source}: counters {known} are not in the format's order {list(COUNTER_NAMES)} "
            "(swapped names would price one counter as another)"
        )


_MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "counters": (list,), "exit_names": (list,), "class_names": (list,), "splits": (dict,),
    "backbone": (str,), "network": (str,), "dataset": (str,),
}


def check_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Check the type of every manifest field the loader reads, and every split entry."""
    for key, types in _MANIFEST_TYPES.items():
        if key in manifest and not isinstance(manifest[key], types):
            expected = "a list" if types == (list,) else "an object" if types == (dict,) else "a string"
            raise TraceError(f"{path}: {key!r} must be {expected}, got {manifest[key]!r}")
    for key in ("n_exits", "n_classes", "timesteps"):
        if key in manifest and (not is_integer(manifest[key]) or manifest[key] < 1):
            raise TraceError(f"{path}: {key!r} must be an integer >= 1, got {manifest[key]!r}")
    for split, entry in dict(manifest.get("splits", {})).items():
        where = f"{path}: split {split!r}"
        if not isinstance(entry, dict):
            raise TraceError(f"{where} must be an object with file, sha256, n_samples, got {entry!r}")
        missing = [key for key in ("file", "sha256", "n_samples") if key not in entry]
        if missing:
            raise TraceError(f"{where} lacks {missing}")
        if not isinstance(entry["file"], str) or not entry["file"]:
            raise TraceError(f"{where}: 'file' must be a file name string, got {entry['file']!r}")
        if not isinstance(entry["sha256"], str) or not _SHA256.fullmatch(entry["sha256"]):
            raise TraceError(f"{where}: 'sha256' must be 64 lowercase hex digits, got {entry['sha256']!r}")
        n_samples = entry["n_samples"]
        if not is_integer(n_samples) or n_samples < 1:
            raise TraceError(f"{where}: 'n_samples' must be an integer >= 1, got {n_samples!r}")


def split_file(directory: Path, name: str, split: str) -> Path:
    """The archive ``name`` of ``split``, which must be a file inside ``directory``."""
    archive = directory / name
    inside = archive.resolve().is_relative_to(directory.resolve())
    if not inside or Path(name).is_absolute():
        raise TraceError(
            f"{directory / 'manifest.json'}: split {split!r}: file {name!r} lies outside the trace "
            f"directory {directory}; expected a file name inside it"
        )
    if archive.is_dir():
        raise TraceError(f"{archive}: the archive of split {split!r} is a folder, expected a .npz file")
    if not archive.exists():
        raise TraceNotFoundError(f"{archive}: the trace archive of split {split!r} is missing")
    return archive


def loaded_container(
    kind: Callable[..., T], arrays: Mapping[str, np.ndarray], manifest: Mapping[str, Any], directory: Any,
    split: str, archive: Any,
) -> T:
    """A trace container (``kind``) of arrays read from ``archive``, its meta the manifest's (less
    ``splits``) and the folder; an error of the container's own checks names the archive."""
    meta = {k: v for k, v in manifest.items() if k != "splits"}
    meta["trace_dir"] = str(directory)
    try:
        return kind(meta=meta, split=split, **arrays)
    except TraceError as err:
        raise TraceError(f"{archive}: {err}") from err
