"""Per-sample exit traces: what the environments replay (spec §4).

A trace directory holds one network variant of one backbone::

    <trace_dir>/
      manifest.json     schema version, backbone config, provenance, sha256 per file
      train.npz         the hold-out split (policies are trained and tuned here)
      test.npz          the official test split (evaluation only)

Each split archive holds, over N samples, E exits (the last one is the final
head) and C classes and K counters:

=============== ============ =========== ==========================================
array           shape        dtype       meaning
=============== ============ =========== ==========================================
``labels``      (N,)         uint8/int16 true class
``sample_ids``  (N,)         int32       index of the image in its source split
``probs``       (N, E, C)    float16     softmax of every exit head
``exit_counts`` (N, E, K)    int64       cumulative cost of reaching exit e
``full_counts`` (N, K)       int64       cost of the plain network (no heads)
=============== ============ =========== ==========================================

The K counters are :data:`COUNTER_NAMES`. Traces hold raw counts, never joules:
energy models price the counts at load time (:mod:`sparq_gym.energy`).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.errors import TraceError, TraceNotFoundError
from sparq_gym.io import atomic_save_npz, atomic_write_json, read_json, read_json_object, sha256_file
from sparq_gym.traces.validate import (
    ARRAY_DTYPES,
    COUNTER_NAMES,
    check_manifest,
    check_names,
    loaded_container,
    split_file,
    validate_arrays,
)

__all__ = [
    "COUNTER_NAMES",
    "SCHEMA_VERSION",
    "SPLITS",
    "TraceError",
    "TraceSet",
    "load_manifest",
    "make_synthetic_traces",
]

SCHEMA_VERSION = 1
"""Version of the on-disk layout; bumped when the meaning of an array changes."""

SPLITS: tuple[str, ...] = ("train", "test")

class TraceSizes:
    """What both trace formats read off their arrays (:class:`TraceSet`, probs (N, E, C), and
    :class:`~sparq_gym.traces.timeset.TimeTraceSet`, probs (N, E, T, C)): N from ``labels``,
    E (heads) from axis 1 of ``probs`` and C from its last axis, the counter names from
    ``meta``, and every head's prediction, correctness and confidence (shape ``probs``
    without C: (N, E) or (N, E, T))."""

    labels: NDArray[np.integer[Any]]
    probs: NDArray[np.floating[Any]]
    meta: Mapping[str, Any]

    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return int(self.labels.shape[0])

    @property
    def n_exits(self) -> int:
        """Number of exits (heads) E, the final head included."""
        return int(self.probs.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes C."""
        return int(self.probs.shape[-1])

    @property
    def counter_names(self) -> tuple[str, ...]:
        """Names of the K counters (the last axis of the count arrays)."""
        return tuple(self.meta.get("counters", COUNTER_NAMES))

    def predictions(self) -> NDArray[np.int64]:
        """Predicted class of every head (after every timestep), (N, E) or (N, E, T)."""
        return np.argmax(self.probs, axis=-1)

    def correct(self) -> NDArray[np.bool_]:
        """Whether each head is right (after each timestep), (N, E) or (N, E, T)."""
        labels = self.labels.reshape(-1, *(1,) * (self.probs.ndim - 2))
        return self.predictions() == labels  # type: ignore[no-any-return]

    def confidence(self) -> NDArray[np.float64]:
        """Max-softmax confidence of every head in [0, 1], (N, E) or (N, E, T)."""
        return np.clip(self.probs.max(axis=-1).astype(np.float64), 0.0, 1.0)


@dataclass(frozen=True)
class TraceSet(TraceSizes):
    """One split of one network variant: per-sample probabilities and counts.

    :param labels: true class per sample, shape (N,).
    :param probs: softmax of every exit head, shape (N, E, C); exit E-1 is the final head.
    :param exit_counts: cumulative counters to reach each exit, shape (N, E, K).
    :param full_counts: counters of the plain network without exit heads, shape (N, K).
    :param sample_ids: index of each sample in its source dataset split, shape (N,).
    :param meta: the manifest entries that describe the variant (backbone,
        network, exit names, class names, timesteps, provenance, ...).
    :param split: ``"train"`` or ``"test"`` (or any name for user-made traces).
    """

    labels: NDArray[np.integer[Any]]
    probs: NDArray[np.floating[Any]]
    exit_counts: NDArray[np.int64]
    full_counts: NDArray[np.int64]
    sample_ids: NDArray[np.integer[Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)
    split: str = "test"

    def __post_init__(self) -> None:
        source = f"TraceSet({self.split!r})"
        if not isinstance(self.meta, Mapping):
            raise TraceError(f"{source}: meta must be a mapping (the manifest's entries), got {self.meta!r}")
        validate_arrays(self.arrays(), source=source)
        check_names(self.meta, self.n_exits, self.n_classes, self.exit_counts.shape[2], source)

    # -- shape helpers (and TraceSizes') --------------------------------
    @property
    def exit_names(self) -> tuple[str, ...]:
        """Human-readable exit names, e.g. ``("exit1", "exit2", "final")``."""
        names = self.meta.get("exit_names")
        if names is None:
            names = [f"exit{e + 1}" for e in range(self.n_exits - 1)] + ["final"]
        return tuple(names)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as stored on disk, keyed by archive name."""
        return {
            "labels": self.labels,
            "sample_ids": self.sample_ids,
            "probs": self.probs,
            "exit_counts": self.exit_counts,
            "full_counts": self.full_counts,
        }

    # -- derived quantities (and TraceSizes' predictions, correct, confidence)
    def accuracy_per_exit(self) -> list[float]:
        """Accuracy of each exit head over the split, final head last."""
        return [float(a) for a in self.correct().mean(axis=0)]

    def path_outcome(
        self, exits: Sequence[int] | NDArray[np.integer[Any]] | None = None
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64], list[float]]:
        """What each sample gets when it ends at exit ``exits[i]``.

        ``exits=None`` means the plain network: the final head's prediction
        priced with ``full_counts`` (no exit heads on the path). Returns
        ``(correct (N,), counts (N, K), fraction of samples per exit (E,))``.
        """
        n = self.n_samples
        if exits is None:
            return self.correct()[:, -1], self.full_counts, [0.0] * (self.n_exits - 1) + [1.0]
        chosen = np.asarray(exits, dtype=np.int64)
        if chosen.shape != (n,) or (n and (chosen.min() < 0 or chosen.max() >= self.n_exits)):
            raise ValueError(
                f"exits must be {n} exit indices in [0, {self.n_exits}), got shape {chosen.shape}"
            )
        rows = np.arange(n)
        fractions = np.bincount(chosen, minlength=self.n_exits) / max(n, 1)
        return self.correct()[rows, chosen], self.exit_counts[rows, chosen], [float(f) for f in fractions]

    def counter(self, name: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Return ``(per_exit, full)`` for one counter: shapes (N, E) and (N,)."""
        names = self.counter_names
        if name not in names:
            raise KeyError(f"unknown counter {name!r}; expected one of {list(names)}")
        k = names.index(name)
        return self.exit_counts[:, :, k], self.full_counts[:, k]

    def subset(self, indices: Sequence[int] | NDArray[np.integer[Any]]) -> TraceSet:
        """A new TraceSet holding only the samples at ``indices``."""
        idx = np.asarray(indices)
        return TraceSet(
            labels=self.labels[idx],
            probs=self.probs[idx],
            exit_counts=self.exit_counts[idx],
            full_counts=self.full_counts[idx],
            sample_ids=self.sample_ids[idx],
            meta=self.meta,
            split=self.split,
        )

    # -- disk ------------------------------------------------------------
    def save(
        self, directory: str | os.PathLike[str], manifest_extra: Mapping[str, Any] | None = None
    ) -> Path:
        """Write this split to ``directory/<split>.npz`` and update ``manifest.json``.

        Both files are written atomically; the manifest records the archive's
        sha256, its sample count and per-exit accuracy. Other splits already in
        the manifest are kept. Returns the archive path.
        """
        directory = Path(directory)
        archive = directory / f"{self.split}.npz"
        atomic_save_npz(archive, **self.arrays())
        manifest_path = directory / "manifest.json"
        manifest: dict[str, Any] = read_json(manifest_path) if manifest_path.exists() else {}
        manifest.update({k: v for k, v in self.meta.items() if k != "splits"})
        if manifest_extra:
            manifest.update(manifest_extra)
        manifest["schema_version"] = SCHEMA_VERSION
        manifest["counters"] = list(self.counter_names)
        manifest["exit_names"] = list(self.exit_names)
        manifest["n_exits"] = self.n_exits
        manifest["n_classes"] = self.n_classes
        accuracy = self.accuracy_per_exit()
        write_split_manifest(manifest_path, manifest, self.split, archive, self.n_samples, accuracy)
        return archive

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], split: str = "test", verify: bool = True
    ) -> TraceSet:
        """Load and validate one split of the trace directory ``directory``.

        Checks the schema version, that the split is listed, the archive's
        sha256 (when ``verify``), every array's dtype and shape, and that the
        arrays agree with the manifest. Raises :class:`TraceError` (or
        ``FileNotFoundError``) naming the file and the problem.
        """
        if not isinstance(directory, (str, os.PathLike)) or not isinstance(split, str):
            raise TraceError(
                f"trace_dir must be a folder path and split a name, got {directory!r} and {split!r}"
            )
        directory = Path(directory)
        manifest = load_manifest(directory)
        path = directory / "manifest.json"
        splits = manifest.get("splits", {})
        if split not in splits:
            raise TraceError(f"{path}: no split {split!r}; this trace directory has {sorted(splits)}")
        entry = splits[split]
        archive = split_file(directory, entry["file"], split)
        if verify:
            actual = sha256_file(archive)
            if actual != entry["sha256"]:
                raise TraceError(
                    f"{archive}: sha256 mismatch (manifest says {entry['sha256'][:16]}..., "
                    f"file has {actual[:16]}...); the file is corrupt or was edited"
                )
        arrays = _read_archive(archive)
        validate_arrays(arrays, source=str(archive))
        n = arrays["labels"].shape[0]
        if n != entry["n_samples"]:
            raise TraceError(f"{archive}: {n} samples, manifest says {entry['n_samples']}")
        n_exits, n_classes = arrays["probs"].shape[1:]
        for key, actual_value in (("n_exits", n_exits), ("n_classes", n_classes)):
            if key in manifest and manifest[key] != actual_value:
                raise TraceError(f"{archive}: {key}={actual_value}, manifest says {manifest[key]}")
        check_names(manifest, n_exits, n_classes, arrays["exit_counts"].shape[2], str(path))
        return loaded_container(cls, arrays, manifest, directory, split, archive)


def write_split_manifest(
    path: Path, manifest: dict[str, Any], split: str, archive: Path, n_samples: int, accuracy: list[float]
) -> None:
    """List ``split``'s ``archive`` in ``manifest`` (file, sha256, sample count, accuracy per
    exit; other splits kept) and write it to ``path`` atomically (both trace formats)."""
    splits = dict(manifest.get("splits", {}))
    splits[split] = {
        "file": archive.name,
        "sha256": sha256_file(archive),
        "n_samples": n_samples,
        "accuracy_per_exit": accuracy,
    }
    manifest["splits"] = splits
    atomic_write_json(path, manifest)


def load_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``directory/manifest.json`` (existence and schema version)."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise _no_manifest(Path(directory), path)
    manifest = read_json_object(path, TraceError)
    version = manifest.get("schema_version")
    hint = _subfolder_hint(Path(directory))
    if version != SCHEMA_VERSION and "splits" not in manifest and hint:
        raise TraceError(f"{path} is not a trace manifest (no schema_version, no splits): {hint}")
    if version != SCHEMA_VERSION:
        raise TraceError(
            f"{path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION}); "
            "re-extract the traces with this version of sparq_gym"
        )
    check_manifest(manifest, path)
    return manifest


def _no_manifest(directory: Path, path: Path) -> TraceError:
    """Why ``path`` cannot be read: missing, a folder, or ``directory`` is a level too high."""
    if path.is_dir():
        return TraceError(f"{path}: is a folder, expected the trace manifest file")
    if directory.exists() and not directory.is_dir():
        return TraceError(f"{directory}: is a file, expected a trace directory")
    hint = _subfolder_hint(directory)
    if hint:
        return TraceNotFoundError(f"{directory}: holds no manifest.json: {hint}")
    if not directory.exists():
        return TraceNotFoundError(f"{directory}: trace directory not found (no {path.name})")
    return TraceNotFoundError(f"{path}: trace manifest not found")


def _subfolder_hint(directory: Path) -> str:
    """When ``directory`` is a level too high (a backbone folder): which subfolders are trace directories."""
    if not directory.is_dir():
        return ""
    below = sorted(p.parent.name for p in directory.glob("*/manifest.json"))
    if not below:
        return ""
    return (f"{directory} looks like a backbone folder; its subfolders {below} are trace directories, "
            f"pass one of them, e.g. trace_dir='{directory / below[0]}'")


def _read_archive(archive: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(archive):
        raise TraceError(f"{archive}: not a readable .npz archive (truncated or corrupt, or another "
                         "format, such as a single .npy array, under a .npz name)")
    try:
        with np.load(archive, allow_pickle=False) as data:
            missing = sorted(set(ARRAY_DTYPES) - set(data.files))
            if missing:
                raise TraceError(f"{archive}: missing arrays {missing}; expected {sorted(ARRAY_DTYPES)}")
            return {name: data[name] for name in ARRAY_DTYPES}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as err:
        if isinstance(err, TraceError):
            raise
        raise TraceError(
            f"{archive}: not a readable .npz archive (truncated or corrupt: {err})"
        ) from err


def make_synthetic_traces(
    n_samples: int = 1000,
    *,
    n_exits: int = 3,
    n_classes: int = 10,
    exit_accuracy: Sequence[float] | None = None,
    exit_cost_fraction: Sequence[float] | None = None,
    full_cost: int = 1_000_000,
    seed: int = 0,
    split: str = "test",
) -> TraceSet:
    """Make a small trace set with known statistics, for tests and benchmarks.

    Head ``e`` is right with probability ``exit_accuracy[e]``; a right head puts
    a confidence drawn from U(0.5, 1) on the true class, a wrong head a
    confidence from U(0.1, 0.7) on another class, the rest is spread evenly.
    So confidence carries information about correctness, as in real traces.
    Counts are deterministic: reaching exit e costs ``exit_cost_fraction[e]``
    of ``full_cost`` in every counter, scaled per sample by ``1 + i % 3 / 10``
    so that savings vary a little across samples.

    :param n_samples: N.
    :param n_exits: E, the final head included.
    :param n_classes: C.
    :param exit_accuracy: probability that head e is right; default rises from 0.6 to 0.9.
    :param exit_cost_fraction: cumulative cost of reaching exit e over the plain network;
        default ``linspace(0.3, 1.1, E)`` (the path through every head costs more than the plain network).
    :param full_cost: counter value of the plain network for every counter.
    :param seed: seed of the private generator (the global RNG is not touched).
    :param split: split name stored in the TraceSet.
    """
    if n_exits < 2 or n_classes < 2 or n_samples < 1:
        raise ValueError("need n_samples >= 1, n_exits >= 2 and n_classes >= 2")
    rng = np.random.default_rng(seed)
    accuracy = (
        np.linspace(0.6, 0.9, n_exits)
        if exit_accuracy is None
        else np.asarray(exit_accuracy, float)
    )
    fraction = (
        np.linspace(0.3, 1.1, n_exits)
        if exit_cost_fraction is None
        else np.asarray(exit_cost_fraction, float)
    )
    if accuracy.shape != (n_exits,) or fraction.shape != (n_exits,):
        raise ValueError(f"exit_accuracy and exit_cost_fraction need {n_exits} entries each")

    labels = rng.integers(n_classes, size=n_samples)
    right = rng.random((n_samples, n_exits)) < accuracy
    offset = rng.integers(1, n_classes, size=(n_samples, n_exits))
    predicted = np.where(right, labels[:, None], (labels[:, None] + offset) % n_classes)
    top = np.where(right, rng.uniform(0.5, 1.0, right.shape), rng.uniform(0.1, 0.7, right.shape))
    top = np.maximum(top, 1.0 / n_classes + 1e-3)
    probs = np.repeat(((1.0 - top) / (n_classes - 1))[:, :, None], n_classes, axis=2)
    np.put_along_axis(probs, predicted[:, :, None], top[:, :, None], axis=2)

    scale = 1.0 + (np.arange(n_samples) % 3) / 10.0
    n_counters = len(COUNTER_NAMES)
    full = np.round(full_cost * scale)[:, None].repeat(n_counters, axis=1).astype(np.int64)
    exits = np.round(full[:, None, :] * fraction[None, :, None]).astype(np.int64)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "backbone": "synthetic",
        "network": "synthetic",
        "dataset": "synthetic",
        "counters": list(COUNTER_NAMES),
        "exit_names": [f"exit{e + 1}" for e in range(n_exits - 1)] + ["final"],
        "class_names": [f"class{c}" for c in range(n_classes)],
        "timesteps": 4,
        "provenance": {
            "generator": "sparq_gym.traces.make_synthetic_traces",
            "seed": seed,
            "exit_accuracy": accuracy.tolist(),
            "exit_cost_fraction": fraction.tolist(),
        },
    }
    return TraceSet(
        labels=labels.astype(np.uint8 if n_classes <= 256 else np.int32),
        probs=probs.astype(np.float16),
        exit_counts=exits,
        full_counts=full,
        sample_ids=np.arange(n_samples, dtype=np.int32),
        meta=meta,
        split=split,
    )
