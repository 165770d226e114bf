"""The environment families, described once: which ids each registers, where its traces live,
how its tables are built.

Every command, reference, learner and evaluation of ``agents`` reaches a family through
:func:`family_of` (an id -> its :class:`Family` and backbone), so none of them is written
per family; a new family is one more :class:`Family` in :data:`FAMILIES`.

=========================== ============== =========================================================
id                          family         traces and tables
=========================== ============== =========================================================
``SPARQExit-<B>-v0``        ``exit``       ``TraceSet``, ``ExitTables`` (:mod:`sparq_gym.envs.core`)
``mo-SPARQExit-<B>-v0``     ``exit``       the same; the reward scalarized with weights (1, alpha)
``SPARQExit-v0``            ``exit``       a user's ``trace_dir``
``SPARQDepthTime-<B>-v0``   ``depth_time`` ``TimeTraceSet``, ``DepthTimeTables`` (``depth_time_core``)
``SPARQDepthTime-v0``       ``depth_time`` a user's ``trace_dir``
=========================== ============== =========================================================
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sparq_gym.envs.registration import (
    DEPTH_TIME_GENERIC_ENV_ID,
    DEPTH_TIME_TABLE,
    ENV_TABLE,
    GENERIC_ENV_ID,
    MO_PREFIX,
    EnvEntry,
)
from sparq_gym.errors import ConfigError

__all__ = ["FAMILIES", "Family", "all_env_ids", "family_of", "shipped_env_ids"]


@dataclass(frozen=True)
class Family:
    """One environment family.

    :param name: ``"exit"`` (v0: depth only) or ``"depth_time"`` (spec §9).
    :param table: its backbone ids.
    :param generic_id: its id for a user's trace folder.
    :param masked: whether some action is masked somewhere (``action_masks()``).
    :param loader: ``"module:function"`` loading its traces (``(backbone, *, traces,
        trace_dir_path, network, split)``).
    :param builder: ``"module:function"`` building its tables (``(traces, *, alpha, n_bins,
        cost, obs_type)``).
    :param synthetic: ``"module:function"`` making synthetic traces (``(n, *, seed, split)``).
    :param shipped: ``"module:function"`` giving the folder of a backbone's shipped traces
        (``(backbone, network)``).
    """

    name: str
    table: tuple[EnvEntry, ...]
    generic_id: str
    masked: bool
    loader: str
    builder: str
    synthetic: str
    shipped: str

    def shipped_dir(self, backbone: str, network: str) -> Any:
        """The folder of ``backbone``'s shipped traces of ``network`` (a ``Path``)."""
        return _function(self.shipped)(backbone, network)

    @property
    def ids(self) -> tuple[str, ...]:
        """Its backbone ids, smallest backbone first."""
        return tuple(entry.env_id for entry in self.table)

    def load_traces(self, backbone: str | None, **kwargs: Any) -> Any:
        """Load its traces (the environment's own loader, with the environment's messages)."""
        return _function(self.loader)(backbone, **kwargs)

    def build_tables(self, traces: Any, **settings: Any) -> Any:
        """Build its tables from ``traces`` (``alpha``, ``n_bins``, ``cost``, ``obs_type``)."""
        return _function(self.builder)(traces, **settings)

    def make_synthetic(self, n_samples: int, *, seed: int, split: str) -> Any:
        """Synthetic traces of this family (tests and development only)."""
        return _function(self.synthetic)(n_samples, seed=seed, split=split)


FAMILIES: tuple[Family, ...] = (
    Family(
        "exit",
        ENV_TABLE,
        GENERIC_ENV_ID,
        False,
        "sparq_gym.envs.exit_env:load_exit_traces",
        "sparq_gym.envs.core:build_exit_tables",
        "sparq_gym.traces:make_synthetic_traces",
        "sparq_gym.paths:trace_dir",
    ),
    Family(
        "depth_time",
        DEPTH_TIME_TABLE,
        DEPTH_TIME_GENERIC_ENV_ID,
        True,
        "sparq_gym.envs.depth_time_env:load_time_traces",
        "sparq_gym.envs.depth_time_core:build_depth_time_tables",
        "sparq_gym.traces.timeset:make_synthetic_time_traces",
        "sparq_gym.envs.depth_time_env:time_trace_dir",
    ),
)


def _function(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def shipped_env_ids() -> list[str]:
    """Every id that replays shipped traces, family after family (the main job ranks these)."""
    return [env_id for family in FAMILIES for env_id in family.ids]


def all_env_ids() -> list[str]:
    """Every registered id: each family's backbone ids and generic id, then the ``mo-`` ids."""
    ids = [env_id for family in FAMILIES for env_id in (*family.ids, family.generic_id)]
    return ids + [MO_PREFIX + entry.env_id for entry in ENV_TABLE]


def family_of(env_id: Any) -> tuple[Family, str | None, bool]:
    """``(family, backbone or None for a generic id, whether it is an mo- id)`` of ``env_id``.

    Raises :class:`~sparq_gym.errors.ConfigError` naming every registered id otherwise.
    """
    if isinstance(env_id, str):
        scalar_id = env_id.removeprefix(MO_PREFIX)
        is_mo = scalar_id != env_id
        for family in FAMILIES:
            for entry in family.table:
                if entry.env_id == scalar_id and (not is_mo or family.name == "exit"):
                    return family, entry.backbone, is_mo
            if env_id == family.generic_id:
                return family, None, False
    raise ConfigError(f"env_id (--env) must be one of {all_env_ids()}, got {env_id!r}")
