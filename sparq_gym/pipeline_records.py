"""The pipeline's stage records and image selection, shared by its stages (:mod:`sparq_gym.pipeline`).

Every stage records its inputs, outputs (sha256), wall time and command in
``<work_dir>/pipeline_state.json`` (:class:`StageRecords`); a stage whose
recorded inputs are unchanged and whose outputs are still on disk is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.io import atomic_write_json, read_json, sha256_file

__all__ = [
    "INT8_STEM", "LIMIT_SELECTION", "STATE_NAME", "TRACE_SPLITS", "StageRecords", "limited_selection",
    "log", "stage_seconds",
]

STATE_NAME = "pipeline_state.json"
INT8_STEM = "qsnn_int8"
"""File stem of the INT8 weights (``<work_dir>/qsnn_int8.{npz,json}``, shipped in ``weights/``)."""
TRACE_SPLITS: dict[str, str] = {"train": "holdout", "test": "test"}
"""Trace split -> dataset split it is extracted from."""

LIMIT_SELECTION = "seeded permutation (seed 0), first `limit`, ascending"
"""How a limited extraction picks its images (recorded in the stage inputs and trace manifests)."""


def limited_selection(n_total: int, limit: int | None, seed: int = 0) -> NDArray[np.int64]:
    """Positions of the images an extraction takes from a split of ``n_total``.

    All of them without ``limit``; else ``limit`` positions drawn by a seeded
    permutation, in ascending order. Not the first ``limit``: a split may be
    sorted by label (the offline CIFAR-10 copy's test batch is), and its first
    images would then be one or two classes.
    """
    if limit is None or limit >= n_total:
        return np.arange(n_total, dtype=np.int64)
    if limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:limit]).astype(np.int64)


class StageRecords:
    """The stage records in ``<work_dir>/pipeline_state.json``, each with the run's ``command``."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self.data: dict[str, Any] = read_json(path) if path.exists() else {"stages": {}}

    def up_to_date(self, stage: str, inputs: dict[str, Any]) -> bool:
        """Whether ``stage`` was recorded with ``inputs`` and its outputs are on disk unchanged."""
        record = self.data["stages"].get(stage)
        if record is None or record.get("inputs") != inputs:
            return False
        for name, digest in record.get("outputs", {}).items():
            path = Path(name)
            if not path.exists() or sha256_file(path) != digest:
                return False
        return True

    def record(self, stage: str, inputs: dict[str, Any], outputs: Sequence[Path], started: float,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record ``stage`` as finished now, begun at ``started`` (``time.perf_counter``)."""
        seconds = time.perf_counter() - started
        entry = {
            "inputs": inputs,
            "outputs": {str(p): sha256_file(p) for p in outputs},
            "seconds": round(seconds, 2),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
            "details": details or {},
        }
        self.data["stages"][stage] = entry
        atomic_write_json(self.path, self.data)
        return entry


def stage_seconds(record: dict[str, Any]) -> float:
    """Wall seconds of a stage; for a given ANN, its recorded training time (with warm restarts)."""
    metrics = (record.get("details") or {}).get("metrics") or {}
    return float(metrics.get("total_train_seconds_with_parents")
                 or metrics.get("total_train_seconds") or record["seconds"])


def log(message: str) -> None:
    """Print a pipeline progress line."""
    print(f"[pipeline] {message}", flush=True)
