"""Depth x time traces: every head after every timestep (spec §9).

A depth-time trace directory holds one network variant of one backbone, as
:mod:`sparq_gym.traces.traceset` does, with ``"format": "depth_time"`` and
``"timesteps": T`` in its manifest::

    <trace_dir>/
      manifest.json     v0's manifest + format, timesteps; sha256 per split file
      train.npz         the hold-out split (policies are trained and tuned here)
      test.npz          the official test split (evaluation only)

Arrays over N samples, E heads (the final head last), T timesteps, C classes
and K counters (:data:`~sparq_gym.traces.traceset.COUNTER_NAMES` order):

================ ============== ======= ==================================================
array            shape          dtype   meaning
================ ============== ======= ==================================================
``labels``       (N,)           int     true class
``sample_ids``   (N,)           int32   index of the image in its source split
``probs``        (N, E, T, C)   float16 head k's softmax after t+1 timesteps
``block_counts`` (N, E, T, K)   int64   cumulative counters of the blocks feeding head k
                                        for t+1 timesteps (final head: the plain network)
``head_counts``  (N, E, T, K)   int64   head k alone for t+1 timesteps (0 for the final head)
``full_counts``  (N, K)         int64   the plain network for T timesteps
================ ============== ======= ==================================================

Loading checks shapes, dtypes, checksums and meaning: counts are non-negative
and non-decreasing in t, the final head costs nothing of its own, the final
head's blocks after T timesteps are the plain network, and every probability
vector sums to 1 (within float16 rounding).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.io import atomic_save_npz, read_json, sha256_file
from sparq_gym.traces.traceset import (
    ARRAY_DTYPES,
    COUNTER_NAMES,
    SCHEMA_VERSION,
    TraceError,
    TraceSet,
    TraceSizes,
    load_manifest,
    write_split_manifest,
)
from sparq_gym.traces.validate import loaded_container

__all__ = ["TIME_FORMAT", "TimeTraceSet", "make_synthetic_time_traces"]

TIME_FORMAT = "depth_time"
"""The manifest's ``format`` entry of a depth-time trace directory."""

_DTYPES: dict[str, tuple[str, ...]] = {
    **{name: ARRAY_DTYPES[name] for name in ("labels", "sample_ids", "probs")},
    "block_counts": ("int64",),
    "head_counts": ("int64",),
    "full_counts": ("int64",),
}
"""The dtypes of the arrays: those shared with :class:`TraceSet`'s as there; counts int64."""
_PROB_TOLERANCE = 2e-2
"""How far from 1 a stored softmax may sum (float16 rounds each of C entries by up to 2**-11)."""


@dataclass(frozen=True)
class TimeTraceSet(TraceSizes):
    """One split of one network variant: every head's softmax and counts after every timestep.

    :param labels: true class per sample, (N,).
    :param probs: head k's softmax after t+1 timesteps, (N, E, T, C); head E-1 is the final head.
    :param block_counts: counters of the blocks feeding head k for t+1 timesteps, (N, E, T, K).
    :param head_counts: counters of head k alone for t+1 timesteps, (N, E, T, K); 0 for the final head.
    :param full_counts: counters of the plain network for T timesteps, (N, K).
    :param sample_ids: index of each sample in its source dataset split, (N,).
    :param meta: the manifest entries that describe the variant.
    :param split: ``"train"`` or ``"test"`` (or any name for user-made traces).
    """

    labels: NDArray[np.integer[Any]]
    probs: NDArray[np.floating[Any]]
    block_counts: NDArray[np.int64]
    head_counts: NDArray[np.int64]
    full_counts: NDArray[np.int64]
    sample_ids: NDArray[np.integer[Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)
    split: str = "test"

    def __post_init__(self) -> None:
        """Validate the arrays (raises :class:`~sparq_gym.traces.TraceError`)."""
        _validate(self.arrays(), source=f"TimeTraceSet({self.split!r})")
        names = self.counter_names
        if len(names) != self.block_counts.shape[3]:
            raise TraceError(
                f"TimeTraceSet({self.split!r}): meta lists {len(names)} counters for "
                f"{self.block_counts.shape[3]} columns of block_counts"
            )

    @property
    def n_timesteps(self) -> int:
        """Number of timesteps T (N, E, C and the counter names: :class:`TraceSizes`)."""
        return int(self.probs.shape[2])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as stored on disk, keyed by archive name."""
        return {
            "labels": self.labels,
            "sample_ids": self.sample_ids,
            "probs": self.probs,
            "block_counts": self.block_counts,
            "head_counts": self.head_counts,
            "full_counts": self.full_counts,
        }

    def accuracy(self) -> list[list[float]]:
        """Accuracy per head (rows, final head last) and timestep (columns)."""
        return self.correct().mean(axis=0).tolist()  # type: ignore[no-any-return]

    def to_v0(self) -> TraceSet:
        """The v0 (depth-only) traces: every head after all T timesteps.

        ``exit_counts[:, k] = block_counts[:, k, T-1] + head_counts[:, :k+1, T-1].sum(1)``
        (the heads passed on the way are paid in full) and ``probs[:, :, T-1]``.
        """
        last = self.n_timesteps - 1
        heads = np.cumsum(self.head_counts[:, :, last], axis=1)
        meta = {k: v for k, v in self.meta.items() if k not in ("format", "splits")}
        meta.setdefault("timesteps", self.n_timesteps)
        return TraceSet(
            labels=self.labels,
            probs=self.probs[:, :, last],
            exit_counts=self.block_counts[:, :, last] + heads,
            full_counts=self.full_counts,
            sample_ids=self.sample_ids,
            meta=meta,
            split=self.split,
        )

    def subset(self, indices: Sequence[int] | NDArray[np.integer[Any]]) -> TimeTraceSet:
        """A new TimeTraceSet holding only the samples at ``indices``."""
        idx = np.asarray(indices)
        return TimeTraceSet(**{k: v[idx] for k, v in self.arrays().items()}, meta=self.meta, split=self.split)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write this split to ``directory/<split>.npz`` and update ``manifest.json``, atomically.

        The manifest records the format, T, the archive's sha256, its sample count
        and per-head accuracy after T timesteps; other splits already listed are kept.
        """
        directory = Path(directory)
        archive = directory / f"{self.split}.npz"
        atomic_save_npz(archive, **self.arrays())
        manifest_path = directory / "manifest.json"
        manifest: dict[str, Any] = read_json(manifest_path) if manifest_path.exists() else {}
        manifest.update({k: v for k, v in self.meta.items() if k not in ("splits", "trace_dir")})
        manifest.update(
            schema_version=SCHEMA_VERSION,
            format=TIME_FORMAT,
            timesteps=self.n_timesteps,
            counters=list(self.counter_names),
            n_exits=self.n_exits,
            n_classes=self.n_classes,
        )
        accuracy = [row[-1] for row in self.accuracy()]
        write_split_manifest(manifest_path, manifest, self.split, archive, self.n_samples, accuracy)
        return archive

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], split: str = "test", verify: bool = True
    ) -> TimeTraceSet:
        """Load and validate one split of the depth-time trace directory ``directory``.

        Checks the schema version and ``format``, that the split is listed, the
        archive's sha256 (when ``verify``), every array's dtype, shape and meaning,
        and that T, E, C and K agree with the manifest. Raises
        :class:`~sparq_gym.traces.TraceError` (or ``FileNotFoundError``) naming the
        file and the problem.
        """
        directory = Path(directory)
        manifest = load_manifest(directory)
        where = directory / "manifest.json"
        if manifest.get("format") != TIME_FORMAT:
            raise TraceError(
                f"{where}: format {manifest.get('format')!r}, expected {TIME_FORMAT!r} "
                "(depth-only traces load with sparq_gym.traces.TraceSet)"
            )
        entry = manifest.get("splits", {}).get(split) if isinstance(manifest.get("splits"), dict) else None
        if not isinstance(entry, dict) or not {"file", "sha256", "n_samples"} <= set(entry):
            raise TraceError(f"{where}: no complete entry (file, sha256, n_samples) for split {split!r}")
        archive = directory / entry["file"]
        if not archive.exists():
            raise FileNotFoundError(f"{archive}: trace archive listed in the manifest is missing")
        if verify and sha256_file(archive) != entry["sha256"]:
            raise TraceError(
                f"{archive}: sha256 mismatch with the manifest; the file is corrupt or was edited"
            )
        arrays = _read_archive(archive)
        _validate(arrays, source=str(archive))
        n, n_exits, n_timesteps, n_classes = arrays["probs"].shape
        expected = {
            "n_samples": (entry["n_samples"], n),
            "timesteps": (manifest.get("timesteps"), n_timesteps),
            "n_exits": (manifest.get("n_exits", n_exits), n_exits),
            "n_classes": (manifest.get("n_classes", n_classes), n_classes),
            "counters": (len(manifest.get("counters", COUNTER_NAMES)), arrays["block_counts"].shape[3]),
        }
        for key, (stated, actual) in expected.items():
            if stated != actual:
                raise TraceError(f"{archive}: {key} is {actual} in the arrays, the manifest says {stated}")
        return loaded_container(cls, arrays, manifest, directory, split, archive)


def _read_archive(archive: Path) -> dict[str, np.ndarray]:
    """The arrays of ``archive``, or a :class:`TraceError` naming what is wrong."""
    try:
        with np.load(archive, allow_pickle=False) as data:
            missing = sorted(set(_DTYPES) - set(data.files))
            if missing:
                raise TraceError(f"{archive}: missing arrays {missing}; expected {sorted(_DTYPES)}")
            return {name: data[name] for name in _DTYPES}
    except TraceError:
        raise
    except Exception as err:  # zip, zlib, EOF and format errors alike
        raise TraceError(f"{archive}: not a readable .npz archive (truncated or corrupt: {err})") from err


def _validate(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Check dtypes, shapes and meaning of the arrays; raise :class:`TraceError` naming ``source``."""
    for name, allowed in _DTYPES.items():
        value = arrays[name]
        if not isinstance(value, np.ndarray) or value.dtype.name not in allowed:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise TraceError(f"{source}: {name} has dtype {got}, expected a numpy array of {list(allowed)}")
    labels, probs, block, head, full = (
        arrays[k] for k in ("labels", "probs", "block_counts", "head_counts", "full_counts")
    )
    if labels.ndim != 1 or probs.ndim != 4 or probs.shape[0] != labels.shape[0]:
        raise TraceError(
            f"{source}: need labels (N,) and probs (N, E, T, C), got {labels.shape}, {probs.shape}"
        )
    n, n_exits, n_timesteps, n_classes = probs.shape
    if n_exits < 2 or n_timesteps < 1:
        raise TraceError(f"{source}: need at least 2 heads and 1 timestep, probs has shape {probs.shape}")
    for name, value in (("block_counts", block), ("head_counts", head)):
        if value.ndim != 4 or value.shape[:3] != (n, n_exits, n_timesteps):
            raise TraceError(
                f"{source}: {name} must have shape (N={n}, E={n_exits}, T={n_timesteps}, K), "
                f"got {value.shape}"
            )
    if head.shape != block.shape or full.shape != (n, block.shape[3]) or arrays["sample_ids"].shape != (n,):
        raise TraceError(
            f"{source}: head_counts {head.shape}, full_counts {full.shape} and sample_ids "
            f"{arrays['sample_ids'].shape} disagree with block_counts {block.shape}"
        )
    if n == 0:
        return
    if labels.min() < 0 or labels.max() >= n_classes:
        raise TraceError(f"{source}: labels must lie in [0, {n_classes})")
    p = probs.astype(np.float64)
    if not np.isfinite(p).all() or p.min() < 0 or np.abs(p.sum(axis=3) - 1).max() > _PROB_TOLERANCE:
        raise TraceError(f"{source}: probs must be finite probability vectors summing to 1 over the classes")
    if min(block.min(), head.min(), full.min()) < 0:
        raise TraceError(f"{source}: counts must be non-negative")
    if (np.diff(block, axis=2) < 0).any() or (np.diff(head, axis=2) < 0).any():
        raise TraceError(f"{source}: block_counts and head_counts must be cumulative (non-decreasing in t)")
    if head[:, -1].any():
        raise TraceError(f"{source}: head_counts of the final head must be 0 (its blocks are the network)")
    if not np.array_equal(block[:, -1, -1], full):
        raise TraceError(f"{source}: block_counts of the final head after T timesteps must equal full_counts")


def make_synthetic_time_traces(
    n_samples: int = 1000,
    *,
    n_exits: int = 3,
    n_timesteps: int = 4,
    n_classes: int = 10,
    full_cost: int = 1_000_000,
    seed: int = 0,
    split: str = "test",
) -> TimeTraceSet:
    """A small depth-time trace set with known statistics, for tests and benchmarks.

    Head k after t+1 timesteps is right with probability rising in both k and t
    (from 0.45 at head 0, timestep 1, to 0.9 at the final head after T); a right
    head puts a confidence from U(0.5, 1) on the true class, a wrong one a
    confidence from U(0.1, 0.7) on another class, the rest spread evenly.
    Blocks feeding head k cost ``fraction_k (t+1) / T`` of ``full_cost`` per counter
    (``fraction`` from 0.3 to 1, the final head's blocks being the plain network),
    head k (not the final one) costs ``0.05 (t+1) / T`` of it; every count is scaled
    per sample by ``1 + i % 3 / 10``. The global RNG is not touched.
    """
    if n_exits < 2 or n_classes < 2 or n_samples < 1 or n_timesteps < 1:
        raise ValueError("need n_samples >= 1, n_exits >= 2, n_timesteps >= 1 and n_classes >= 2")
    rng = np.random.default_rng(seed)
    shape = (n_samples, n_exits, n_timesteps)
    depth = np.linspace(0.0, 1.0, n_exits)[:, None]
    time = np.linspace(0.0, 1.0, n_timesteps)[None, :] if n_timesteps > 1 else np.ones((1, 1))
    accuracy = 0.45 + 0.25 * depth + 0.2 * time
    labels = rng.integers(n_classes, size=n_samples)
    right = rng.random(shape) < accuracy
    offset = rng.integers(1, n_classes, size=shape)
    predicted = np.where(right, labels[:, None, None], (labels[:, None, None] + offset) % n_classes)
    top = np.where(right, rng.uniform(0.5, 1.0, shape), rng.uniform(0.1, 0.7, shape))
    top = np.maximum(top, 1.0 / n_classes + 1e-3)
    probs = np.repeat(((1.0 - top) / (n_classes - 1))[..., None], n_classes, axis=3)
    np.put_along_axis(probs, predicted[..., None], top[..., None], axis=3)

    scale = 1.0 + (np.arange(n_samples) % 3) / 10.0
    n_counters = len(COUNTER_NAMES)
    per_step = np.arange(1, n_timesteps + 1) / n_timesteps
    fraction = np.linspace(0.3, 1.0, n_exits)
    base = full_cost * scale[:, None, None] * per_step[None, None, :]
    block = np.round(base * fraction[None, :, None]).astype(np.int64)
    head = np.round(np.repeat(base, n_exits, axis=1) * 0.05).astype(np.int64)
    head[:, -1] = 0
    block[:, -1, -1] = np.round(full_cost * scale).astype(np.int64)
    block_counts = np.repeat(block[..., None], n_counters, axis=3)
    head_counts = np.repeat(head[..., None], n_counters, axis=3)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "format": TIME_FORMAT,
        "timesteps": n_timesteps,
        "backbone": "synthetic",
        "network": "synthetic",
        "dataset": "synthetic",
        "counters": list(COUNTER_NAMES),
        "exit_names": [f"exit{e + 1}" for e in range(n_exits - 1)] + ["final"],
        "provenance": {"generator": "sparq_gym.traces.timeset.make_synthetic_time_traces", "seed": seed},
    }
    return TimeTraceSet(
        labels=labels.astype(np.uint8 if n_classes <= 256 else np.int32),
        probs=probs.astype(np.float16),
        block_counts=block_counts,
        head_counts=head_counts,
        full_counts=block_counts[:, -1, -1].copy(),
        sample_ids=np.arange(n_samples, dtype=np.int32),
        meta=meta,
        split=split,
    )
