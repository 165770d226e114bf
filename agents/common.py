"""Which traces an agent trains and is evaluated on, and the environments built from them.

Every agent, baseline and report names its problem with an :class:`EnvConfig`:
an environment id plus the keyword arguments that change the MDP (``alpha``,
``n_bins``, ``cost``, ``network``) and where the traces come from. With
``traces="auto"`` (the default) the shipped traces under
``pretrained/<backbone>/<network>/`` are used when they exist (with both splits) and synthetic
traces shaped like the backbone (:data:`SYNTHETIC_PROFILES`) otherwise, so every
command runs before the pretrained traces land and switches to them
automatically afterwards. ``traces="synthetic"`` forces the synthetic ones
(tests, development), ``traces="pretrained"`` fails when they are missing.

The ``train`` split is where policies learn and thresholds are tuned; the
``test`` split is only evaluated. :func:`train_validation_split` carves the
validation part used for early stopping out of ``train``, never out of ``test``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.core import ExitTables, ObsType, build_exit_tables
from sparq_gym.envs.registration import ENV_TABLE, GENERIC_ENV_ID
from sparq_gym.io import read_json
from sparq_gym.paths import trace_dir
from sparq_gym.traces import TraceSet, make_synthetic_traces

__all__ = [
    "SYNTHETIC_PROFILES",
    "TRACE_SOURCES",
    "EnvConfig",
    "SyntheticProfile",
    "backbone_of",
    "subset_tables",
    "train_validation_split",
]

TRACE_SOURCES: tuple[str, ...] = ("auto", "pretrained", "synthetic")


@dataclass(frozen=True)
class SyntheticProfile:
    """Shape of the synthetic stand-in for one backbone's traces.

    :param exit_accuracy: probability that each head (final last) is right.
    :param exit_cost_fraction: cumulative cost of reaching each exit over the plain network.
    :param seed: base seed; ``train`` uses ``seed`` and ``test`` ``seed + 1``.
    """

    exit_accuracy: tuple[float, ...]
    exit_cost_fraction: tuple[float, ...]
    seed: int


SYNTHETIC_PROFILES: dict[str, SyntheticProfile] = {
    # Accuracies roughly follow the paper's per-exit numbers; the path through
    # every head costs a little more than the plain network, as in real traces.
    "mlp": SyntheticProfile((0.85, 0.93, 0.97), (0.35, 0.65, 1.04), seed=101),
    "lenet": SyntheticProfile((0.88, 0.95, 0.98), (0.30, 0.60, 1.05), seed=201),
    "alexnet": SyntheticProfile((0.45, 0.62, 0.76), (0.05, 0.40, 1.08), seed=301),
}
"""Synthetic trace profiles by backbone (used while the pretrained traces are missing)."""

SYNTHETIC_SIZES: dict[str, int] = {"train": 5000, "test": 10000}
"""Samples per split of the synthetic traces: the sizes of the real splits."""


def backbone_of(env_id: str) -> str | None:
    """Backbone replayed by a registered id (``None`` for the generic ``SPARQExit-v0``)."""
    for entry in ENV_TABLE:
        if entry.env_id == env_id:
            return entry.backbone
    if env_id == GENERIC_ENV_ID:
        return None
    known = [entry.env_id for entry in ENV_TABLE] + [GENERIC_ENV_ID]
    raise ValueError(f"unknown environment id {env_id!r}; expected one of {known}")


@dataclass(frozen=True)
class EnvConfig:
    """One early-exit MDP: environment id, reward/observation settings and trace source.

    :param env_id: a registered id, e.g. ``"SPARQExit-LeNet-v0"``.
    :param traces: ``"auto"`` (shipped traces if present, else synthetic), ``"pretrained"``
        or ``"synthetic"``.
    :param trace_dir: a user trace directory (overrides ``traces``; needed for ``SPARQExit-v0``).
    :param alpha: weight of the savings in the reward.
    :param n_bins: B, the number of confidence bins.
    :param cost: what savings are measured in (see :mod:`sparq_gym.envs.costs`).
    :param network: network variant with exits (``"qdsnn"``, ``"dynamic_ann"``, ``"snn"``).
    """

    env_id: str = "SPARQExit-LeNet-v0"
    traces: str = "auto"
    trace_dir: str | None = None
    alpha: float = 0.3
    n_bins: int = 10
    cost: str = "total_ops"
    network: str = "qdsnn"

    def __post_init__(self) -> None:
        if self.traces not in TRACE_SOURCES:
            raise ValueError(f"traces must be one of {list(TRACE_SOURCES)}, got {self.traces!r}")
        backbone = backbone_of(self.env_id)
        if backbone is None and self.trace_dir is None:
            raise ValueError(f"{self.env_id} needs trace_dir=PATH (your own traces)")

    @property
    def backbone(self) -> str | None:
        """Backbone of the id, ``None`` for the generic id."""
        return backbone_of(self.env_id)

    def source(self) -> str:
        """Where the traces come from: ``"trace_dir"``, ``"pretrained"`` or ``"synthetic"``."""
        if self.trace_dir is not None:
            return "trace_dir"
        if self.traces != "auto":
            return self.traces
        return "pretrained" if _shipped_complete(str(self.backbone), self.network) else "synthetic"

    def load_traces(self, split: str) -> TraceSet:
        """The :class:`TraceSet` of ``split`` (``"train"`` or ``"test"``) for this config."""
        return _load_traces(self.env_id, self.source(), self.trace_dir, self.network, split)

    def tables(self, split: str, obs_type: ObsType = "multidiscrete") -> ExitTables:
        """Precomputed exit tables of ``split`` with this config's reward settings."""
        return _tables(self, split, obs_type)

    def make_env(self, split: str, obs_type: ObsType = "multidiscrete", **kwargs: Any) -> Any:
        """``gym.make`` this environment on ``split`` (extra kwargs go to the environment)."""
        import gymnasium as gym

        import sparq_gym  # noqa: F401  (registers the ids)

        return gym.make(self.env_id, **self.env_kwargs(split, obs_type), **kwargs)

    def env_kwargs(self, split: str, obs_type: ObsType = "multidiscrete") -> dict[str, Any]:
        """Keyword arguments of ``gym.make`` / ``gym.make_vec`` for ``split``."""
        kwargs: dict[str, Any] = {
            "split": split,
            "alpha": self.alpha,
            "n_bins": self.n_bins,
            "cost": self.cost,
            "obs_type": obs_type,
        }
        source = self.source()
        if source == "trace_dir":
            kwargs["trace_dir"] = self.trace_dir
        elif source == "synthetic":
            kwargs["traces"] = self.load_traces(split)
        else:
            kwargs["network"] = self.network
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what saved policies record), with the resolved trace source."""
        return {**asdict(self), "source": self.source()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvConfig:
        """Inverse of :meth:`to_dict` (unknown keys such as ``source`` are ignored)."""
        fields = {"env_id", "traces", "trace_dir", "alpha", "n_bins", "cost", "network"}
        return cls(**{k: v for k, v in data.items() if k in fields})


def _shipped_complete(backbone: str, network: str) -> bool:
    """Whether the shipped traces of ``backbone`` exist with both the train and test splits."""
    path = trace_dir(backbone, network) / "manifest.json"
    if not path.exists():
        return False
    try:
        splits = read_json(path).get("splits", {})
    except (ValueError, OSError):
        return False
    return all(split in splits for split in SYNTHETIC_SIZES)


@lru_cache(maxsize=32)
def _load_traces(env_id: str, source: str, directory: str | None, network: str, split: str) -> TraceSet:
    if source == "trace_dir":
        return TraceSet.load(str(directory), split=split)
    backbone = backbone_of(env_id)
    if source == "pretrained":
        path = trace_dir(str(backbone), network)
        if not (path / "manifest.json").exists():
            raise FileNotFoundError(
                f"{path / 'manifest.json'}: pretrained traces of {env_id} are missing; build them "
                f"with `sparq backbone pipeline {backbone}` or use traces='synthetic'"
            )
        return TraceSet.load(path, split=split)
    profile = SYNTHETIC_PROFILES[str(backbone)]
    if split not in SYNTHETIC_SIZES:
        raise ValueError(f"split must be one of {list(SYNTHETIC_SIZES)}, got {split!r}")
    traces = make_synthetic_traces(
        SYNTHETIC_SIZES[split],
        n_exits=len(profile.exit_accuracy),
        exit_accuracy=profile.exit_accuracy,
        exit_cost_fraction=profile.exit_cost_fraction,
        seed=profile.seed + (split == "test"),
        split=split,
    )
    meta = {**traces.meta, "backbone": f"synthetic-{backbone}"}
    return TraceSet(**traces.arrays(), meta=meta, split=split)


@lru_cache(maxsize=64)
def _tables(config: EnvConfig, split: str, obs_type: ObsType) -> ExitTables:
    traces = config.load_traces(split)
    return build_exit_tables(
        traces, alpha=config.alpha, n_bins=config.n_bins, cost=config.cost, obs_type=obs_type
    )


def train_validation_split(
    n_samples: int, validation_fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split ``range(n_samples)`` of the ``train`` split into (learn, validation) indices.

    The validation part (``validation_fraction`` of the samples, at least one
    when the fraction is positive) is drawn with a generator seeded by ``seed``;
    both parts are returned sorted. Early stopping reads only the validation
    part, so the ``test`` split is never used for model selection.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_val = round(validation_fraction * n_samples)
    if validation_fraction > 0:
        n_val = max(n_val, 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def subset_tables(tables: ExitTables, indices: NDArray[np.integer[Any]]) -> ExitTables:
    """The tables of the samples at ``indices`` only (per-sample arrays sliced, the rest shared)."""
    idx = np.asarray(indices)
    per_sample = (
        "reward",
        "observation",
        "labels",
        "predictions",
        "correct",
        "confidence",
        "bins",
        "cost",
        "full_cost",
        "savings",
        "counts",
    )
    values = {name: getattr(tables, name)[idx] for name in per_sample}
    return replace(tables, **values)
