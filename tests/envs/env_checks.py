"""The two environment families, described once for the tests that check both alike.

A test parametrized over :data:`FAMILIES` runs the same check on the v0 family
(``SPARQExit``) and on the depth x time family (``SPARQDepthTime``); what differs between
them (ids, classes, traces, where the shipped traces live, how a valid action is chosen)
is a field of :class:`Family`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.envs.registration import load_env_creator

from sparq_gym.envs.depth_time_env import time_trace_dir
from sparq_gym.envs.registration import (
    DEPTH_TIME_ENTRY_POINT,
    DEPTH_TIME_GENERIC_ENV_ID,
    DEPTH_TIME_TABLE,
    DEPTH_TIME_VECTOR_ENTRY_POINT,
    ENTRY_POINT,
    ENV_TABLE,
    GENERIC_ENV_ID,
    VECTOR_ENTRY_POINT,
)
from sparq_gym.paths import trace_dir
from sparq_gym.traces import make_synthetic_traces
from sparq_gym.traces.timeset import make_synthetic_time_traces


@dataclass(frozen=True)
class Family:
    """One environment family as the shared tests see it.

    :param name: pytest id.
    :param generic_id: the id that takes ``trace_dir`` or ``traces``; ``<prefix>-v0``.
    :param table: its registration table (one entry per shipped backbone).
    :param entry_points: ``(entry_point, vector_entry_point)`` of its ids.
    :param make_traces: ``make_traces(n_samples, seed=..., split=...)``, synthetic traces.
    :param shipped_dir: where the shipped traces of a backbone live (qdsnn), under
        ``$SPARQ_PRETRAINED``.
    :param masked: whether the environment has action masks (``action_masks()``).
    """

    name: str
    generic_id: str
    table: tuple[Any, ...]
    entry_points: tuple[str, str]
    make_traces: Callable[..., Any]
    shipped_dir: Callable[[str], Path]
    masked: bool

    @property
    def prefix(self) -> str:
        """The prefix of every id it registers."""
        return self.generic_id.removesuffix("-v0")

    @property
    def env_class(self) -> Any:
        """The single environment."""
        return load_env_creator(self.entry_points[0])

    @property
    def vector_class(self) -> Any:
        """The native vector environment."""
        return load_env_creator(self.entry_points[1])

    @property
    def ids(self) -> list[str]:
        """Every id of the family: one per shipped backbone, then the generic one."""
        return [*(entry.env_id for entry in self.table), self.generic_id]

    def actions(self, rng: np.random.Generator, env: Any) -> Any:
        """One random valid action for ``env`` (an int), or one per slot of a vector env."""
        if not self.masked:
            size = getattr(env, "num_envs", None)
            return int(rng.integers(2)) if size is None else rng.integers(2, size=size)
        masks = env.unwrapped.action_masks() if hasattr(env, "unwrapped") else env.action_masks()
        if masks.ndim == 1:
            return int(rng.choice(np.flatnonzero(masks)))
        return (rng.random(masks.shape) + masks * 2.0).argmax(axis=1)


FAMILIES = (
    Family("v0", GENERIC_ENV_ID, tuple(ENV_TABLE), (ENTRY_POINT, VECTOR_ENTRY_POINT),
           make_synthetic_traces, trace_dir, masked=False),
    Family("depth_time", DEPTH_TIME_GENERIC_ENV_ID, tuple(DEPTH_TIME_TABLE),
           (DEPTH_TIME_ENTRY_POINT, DEPTH_TIME_VECTOR_ENTRY_POINT), make_synthetic_time_traces,
           time_trace_dir, masked=True),
)


def family_of(env_id: str) -> Family:
    """The family that registers ``env_id``."""
    return next(family for family in FAMILIES if env_id in family.ids)


def assert_info_equal(native: dict, reference: dict, path: str = "info") -> None:
    """A native vector env's info equals ``SyncVectorEnv``'s, key by key, dtypes included."""
    assert set(native) == set(reference), f"{path}: keys {sorted(native)} != {sorted(reference)}"
    for key, expected in reference.items():
        actual = native[key]
        if isinstance(expected, dict):
            assert_info_equal(actual, expected, f"{path}[{key!r}]")
        elif key == "final_obs":
            # SyncVectorEnv keeps an object array (None where no episode ended);
            # the native env returns one batched array: compare the ended slots.
            mask = reference["_final_obs"]
            np.testing.assert_array_equal(actual[mask], np.stack(list(expected[mask])), err_msg=path)
        else:
            assert actual.dtype == expected.dtype, f"{path}[{key!r}]: {actual.dtype} != {expected.dtype}"
            np.testing.assert_array_equal(actual, expected, err_msg=f"{path}[{key!r}]")
