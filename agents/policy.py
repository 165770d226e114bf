"""The policy interface every evaluated object follows, for every environment family.

A policy maps an observation (and, where the family has one, the action mask) to an
action: 0 = CONTINUE, 1 = EXIT in every family, 2 = WAIT in depth x time. The smallest
policy is an object with one method::

    class MyPolicy:
        obs_type = "multidiscrete"          # optional; "discrete" or "box" also work

        def act(self, observation) -> int:  # v0: (exit k, bin b); depth x time: (k, t-1, b)
            return int(observation[-1] >= 7)

        def act_batch(self, observations, action_masks=None):  # optional: (n, ...) -> (n,)
            return (observations[:, -1] >= 7).astype(int)

``act_batch`` is used when present (one call per decision step over every sample still
running); it receives the (n, A) action masks when it takes a second argument (as
sb3-contrib's ``predict(..., action_masks=)``). Otherwise ``act`` is called per sample.
A masked action is taken as EXIT, as the environments take it (spec §9), and counted.
``obs_type`` chooses the observation the policy receives (default ``"multidiscrete"``). A
plain function ``observation -> action`` is accepted too. Policies that need to see the
whole sample at once (the hindsight oracle) implement ``choose_places(decisions)``
instead and return the place every sample ends at.

Every family reaches a policy through its :class:`~sparq_gym.envs.decisions.DecisionTables`
(:func:`decide_places`), so nothing here is written per family. How a policy is named on
the command line and loaded is :mod:`agents.loading`; this module knows no concrete
policy but :class:`TablePolicy`.
"""

from __future__ import annotations

import inspect
import os
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeAlias, cast, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sparq_gym.envs.core import ExitTables
from sparq_gym.envs.decisions import DecisionTables
from sparq_gym.envs.settings import OBS_TYPES, ObsType
from sparq_gym.errors import PolicyError, PolicyNotFoundError
from sparq_gym.io import atomic_save_npz, atomic_write_json, read_json_object, sha256_file

__all__ = [
    "POLICY_FILE",
    "POLICY_FORMATS",
    "BatchedExitPolicy",
    "CallablePolicy",
    "ExitPolicy",
    "PlaceChooser",
    "Policy",
    "TablePolicy",
    "action_value",
    "as_policy",
    "checked_actions",
    "decide_exits",
    "decide_places",
    "end_rewards",
    "format_thresholds",
    "implied_thresholds",
    "policy_obs_type",
    "read_policy_record",
    "read_table_archive",
    "save_table_policy",
    "verified_file",
]

POLICY_FILE = "policy.json"
"""Name of the metadata file that marks a saved policy directory."""

ActionArray = NDArray[np.int64]


@runtime_checkable
class ExitPolicy(Protocol):
    """Observation at a decision point -> action (0 = CONTINUE, 1 = EXIT, 2 = WAIT where there is one)."""

    def act(self, observation: Any) -> int:
        """Return the action for one observation."""
        ...


@runtime_checkable
class BatchedExitPolicy(ExitPolicy, Protocol):
    """An :class:`ExitPolicy` that also decides a batch of observations at once."""

    def act_batch(self, observations: NDArray[Any]) -> NDArray[np.integer[Any]]:
        """Return one action per row of ``observations`` (a second argument, when the method
        takes one, receives the (n, A) action masks)."""
        ...


@runtime_checkable
class PlaceChooser(Protocol):
    """A policy that sees every sample at once and names where each ends (the hindsight oracle)."""

    def choose_places(self, decisions: DecisionTables) -> NDArray[np.integer[Any]]:
        """Return the place (v0: the exit; depth x time: the state) every sample ends at."""
        ...


Policy: TypeAlias = ExitPolicy | PlaceChooser
"""Anything :func:`decide_places` runs: an :class:`ExitPolicy` or a :class:`PlaceChooser`."""


class CallablePolicy:
    """Wrap a plain function ``observation -> action`` as an :class:`ExitPolicy`.

    :param function: the function.
    :param obs_type: observation type the function expects.
    """

    def __init__(self, function: Callable[[Any], Any], obs_type: str = "multidiscrete") -> None:
        self.function = function
        self.obs_type = obs_type
        self.name = getattr(function, "__name__", "callable")

    def act(self, observation: Any) -> int:
        """Call the wrapped function; its answer must be one action, 0 or 1."""
        return action_value(self.function(observation), self.name)


class TablePolicy:
    """A deterministic map from the tabular observation to an action, stored as an array.

    Q-learning's greedy policy, the exact optima and every threshold policy are table
    policies. The table has the family's cell shape (v0: ``actions[k, b]`` over (E-1, B);
    depth x time: ``actions[k, t-1, b]`` over (E, T, B)) and holds actions.

    :param actions: integer array of actions (0 = CONTINUE, 1 = EXIT, 2 = WAIT), one axis
        per entry of the ``multidiscrete`` observation, the confidence bin last.
    :param name: display name.
    :param q_values: optional Q-table (``actions.shape`` + (A,)) the actions were read from.
    """

    obs_type = "multidiscrete"

    def __init__(
        self, actions: NDArray[np.integer[Any]], name: str = "table", q_values: ArrayLike | None = None
    ) -> None:
        raw = np.asarray(actions)
        if raw.ndim < 2 or raw.dtype.kind not in "biu" or not np.isin(raw, (0, 1, 2)).all():
            raise PolicyError(
                f"actions must be an integer array of actions (0, 1, 2) with one axis per observation "
                f"entry, e.g. (E-1, B), got a {raw.dtype} array of shape {raw.shape}"
            )
        self.actions = raw.astype(np.int64)
        self.name = name
        q_table = None if q_values is None else np.asarray(q_values)
        if q_table is not None and (
            q_table.ndim != raw.ndim + 1
            or q_table.shape[:-1] != raw.shape
            or q_table.dtype.kind not in "biuf"
        ):
            raise PolicyError(
                f"q_values must be a numeric array of shape {raw.shape} + (actions,), got a {q_table.dtype} "
                f"array of shape {q_table.shape}"
            )
        self.q_values = None if q_table is None else q_table.astype(np.float64)

    @property
    def n_bins(self) -> int:
        """B, the number of confidence bins the table is defined on."""
        return int(self.actions.shape[-1])

    def act(self, observation: Any) -> int:
        """Action for a ``multidiscrete`` observation (or its ``discrete`` flat index)."""
        obs = np.asarray(observation).reshape(-1)
        if obs.size == 1:
            return int(self.actions.reshape(-1)[int(obs[0])])
        return int(self.actions[tuple(int(v) for v in obs)])

    def act_batch(self, observations: NDArray[Any]) -> ActionArray:
        """Actions for an (n, D) array of ``multidiscrete`` rows (or (n,) discrete indices)."""
        obs = np.asarray(observations, dtype=np.int64)
        if obs.ndim == 1:
            return self.actions.reshape(-1)[obs]
        return self.actions[tuple(obs.T)]

    def check_shape(self, decisions: DecisionTables) -> None:
        """Raise :class:`PolicyError` unless the table has the environment's cell shape."""
        if self.actions.shape != decisions.cell_shape:
            raise PolicyError(
                f"policy table has shape {self.actions.shape}; the environment's tabular observation "
                f"has shape {decisions.cell_shape} (its last axis: n_bins): make it with the same "
                "n_bins on the same environment"
            )

    def choose_exits(self, tables: ExitTables) -> ActionArray:
        """v0: the exit every sample of ``tables`` ends at (the first k whose bin says EXIT, else final)."""
        n_early = tables.n_early_exits
        if self.actions.shape != (n_early, tables.n_bins):
            raise PolicyError(
                f"policy table has shape {self.actions.shape}; the environment has {n_early} early exits "
                f"and {tables.n_bins} bins: make it with the same n_bins"
            )
        says_exit = self.actions[np.arange(n_early)[None, :], tables.bins[:, :n_early]] == 1
        first = np.argmax(says_exit, axis=1)
        return np.where(says_exit.any(axis=1), first, n_early).astype(np.int64)

    def thresholds(self) -> list[dict[str, Any]]:
        """Per-exit thresholds implied by a v0 table (:func:`implied_thresholds`); ``[]`` for others."""
        if self.actions.ndim != 2 or self.actions.max(initial=0) > 1:
            return []
        return implied_thresholds(self.actions)


def as_policy(obj: Any, name: str | None = None) -> Policy:
    """Turn a policy object, a policy class or a plain function into a policy object."""
    if inspect.isclass(obj):
        try:
            obj = obj()
        except TypeError as err:
            raise PolicyError(
                f"{name or obj.__name__}: the class cannot be made without arguments ({err}); give its "
                "constructor defaults, or name an instance or a function instead"
            ) from err
    if isinstance(obj, ExitPolicy | PlaceChooser):
        return obj
    if callable(obj):
        return CallablePolicy(obj)
    raise ValueError(
        f"{name or obj!r} is not a policy: expected an object with act(observation), a class "
        "whose instances have it, or a function observation -> action"
    )


def policy_obs_type(policy: Policy) -> ObsType:
    """The observation type a policy reads (``obs_type`` attribute, default multidiscrete)."""
    obs_type = getattr(policy, "obs_type", "multidiscrete")
    if obs_type not in OBS_TYPES:
        raise ValueError(f"policy obs_type must be multidiscrete, discrete or box, got {obs_type!r}")
    return cast(ObsType, str(obs_type))


def end_rewards(tables: ExitTables) -> NDArray[np.float64]:
    """v0: reward of ending each sample's episode at each exit, shape (N, E); final head last
    (the decision tables' ``place_reward``: EXIT at early exit k, or CONTINUE at the last early
    exit for the final head)."""
    return tables.decisions().place_reward


def decide_places(policy: Policy, decisions: DecisionTables) -> tuple[ActionArray, int]:
    """Run ``policy`` on every sample of ``decisions`` once: the place each ends at, and how many
    masked actions the policy chose (each taken as EXIT, as the environments take it).

    ``decisions`` must have been built with the policy's observation type
    (:func:`policy_obs_type`). Policies with ``choose_places`` answer directly; otherwise
    every sample starts at state 0 and, step after step, every sample still running gets
    its observation (``act_batch`` on all of them, with their masks when it takes them,
    or ``act`` per sample) until its action ends the episode. Equal to stepping the
    environment with ``reset(options={"sample_index": i})`` for every i (tested).
    """
    name = getattr(policy, "name", type(policy).__name__)
    n = decisions.n_samples
    if isinstance(policy, PlaceChooser):
        chosen = _call(policy.choose_places, decisions, name, "choose_places")
        return checked_actions(chosen, n, name, "choose_places", decisions.place_reward.shape[1]), 0
    if isinstance(policy, TablePolicy):
        policy.check_shape(decisions)
    places = np.full(n, -1, dtype=np.int64)
    state = np.zeros(n, dtype=np.int64)
    running = np.arange(n)
    n_invalid = 0
    act_batch = policy.act_batch if isinstance(policy, BatchedExitPolicy) else None
    with_masks = act_batch is not None and _takes_masks(act_batch)
    for _ in range(decisions.max_steps):
        if running.size == 0:
            break
        states = state[running]
        observations = decisions.observation[running, states]
        masks = decisions.valid[states]
        if act_batch is not None:
            arguments = (observations, masks) if with_masks else (observations,)
            raw = _call(lambda given: act_batch(*given), arguments, name, "act_batch")
            actions = checked_actions(raw, running.size, name, n_actions=decisions.n_actions)
        else:
            act = policy.act
            actions = np.array(
                [
                    action_value(_call(act, obs, name, "act"), name, decisions.n_actions)
                    for obs in observations
                ],
                dtype=np.int64,
            )
        masked = ~masks[np.arange(running.size), actions]
        n_invalid += int(masked.sum())
        actions = np.where(masked, decisions.exit_action, actions)
        ends = decisions.end_place[states, actions]
        ended = ends >= 0
        places[running[ended]] = ends[ended]
        state[running] = decisions.next_state[states, actions]
        running = running[~ended]
    return places, n_invalid


def decide_exits(policy: Policy, tables: ExitTables) -> ActionArray:
    """v0: the exit each sample of ``tables`` ends at under ``policy`` (:func:`decide_places`)."""
    return decide_places(policy, tables.decisions())[0]


def _takes_masks(method: Callable[..., Any]) -> bool:
    """Whether ``act_batch`` takes a second argument (the action masks)."""
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _call(method: Callable[[Any], Any], argument: Any, name: str, what: str) -> Any:
    """``method(argument)``, with an exception of the policy's own code reported as a :class:`PolicyError`."""
    try:
        return method(argument)
    except PolicyError:
        raise
    except Exception as err:
        raise PolicyError(f"policy {name!r}: {what} raised {type(err).__name__}: {err}") from err


def action_value(raw: Any, name: str, n_actions: int = 2) -> int:
    """One action from a policy's ``act``: an int in ``[0, n_actions)``, or :class:`PolicyError`."""
    value = raw.reshape(-1)[0] if isinstance(raw, np.ndarray) and raw.size == 1 else raw
    if isinstance(value, (bool, np.bool_, int, np.integer)) and 0 <= int(value) < n_actions:
        return int(value)
    raise PolicyError(
        f"policy {name!r}: act returned {raw!r}; expected one action, {_ACTIONS_TEXT[n_actions]}"
    )


_ACTIONS_TEXT = {2: "0 (CONTINUE) or 1 (EXIT)", 3: "0 (CONTINUE), 1 (EXIT) or 2 (WAIT)"}


def checked_actions(
    raw: Any, n: int, name: str, what: str = "act_batch", n_exits: int = 2, *, n_actions: int | None = None
) -> ActionArray:
    """``raw`` as ``n`` integers in ``[0, n_actions)`` (actions) or ``[0, n_exits)`` (places).

    Raises :class:`~sparq_gym.errors.PolicyError` naming the policy, what it returned and what
    is expected, so a policy answering ``None`` or the wrong shape fails clearly.
    """
    bound = n_actions if n_actions is not None else n_exits
    expected = f"{n} integers in [0, {bound})" + (
        f" ({_ACTIONS_TEXT[bound]})" if n_actions is not None or bound == 2 else ""
    )
    try:
        array = np.asarray(raw)
    except Exception as err:  # ragged or odd sequences
        raise PolicyError(f"policy {name!r}: {what} returned {raw!r:.80}; expected {expected}") from err
    integral = array.dtype.kind in "biu"
    if array.shape != (n,) or not integral or (n and (array.min() < 0 or array.max() >= bound)):
        shown = f"{array.dtype} array of shape {array.shape}" if array.ndim else repr(raw)
        raise PolicyError(f"policy {name!r}: {what} returned {shown}; expected {expected}")
    return array.astype(np.int64)


def implied_thresholds(actions: NDArray[np.integer[Any]]) -> list[dict[str, Any]]:
    """Confidence thresholds a (k, b) -> action table implies, one record per early exit.

    At exit k the table acts like "EXIT iff confidence >= theta_k" when its EXIT
    bins are exactly ``{j, ..., B-1}``; then ``theta_k = j / B`` (``None`` when
    it never exits there). Otherwise ``monotone`` is False and ``exit_bins``
    lists the bins that exit.
    """
    table = np.asarray(actions)
    n_bins = table.shape[1]
    records = []
    for k, row in enumerate(table):
        exit_bins = [int(b) for b in np.flatnonzero(row == 1)]
        first = exit_bins[0] if exit_bins else n_bins
        monotone = exit_bins == list(range(first, n_bins))
        threshold = round(first / n_bins, 6) if monotone and exit_bins else None
        records.append({"exit": k, "monotone": monotone, "threshold": threshold, "exit_bins": exit_bins})
    return records


def format_thresholds(records: list[dict[str, Any]]) -> str:
    """Short text for :func:`implied_thresholds` records, e.g. ``"0.6/0.7"`` or ``"0.5/{3,7-9}"``."""
    parts = []
    for record in records:
        if record["monotone"]:
            parts.append("never" if record["threshold"] is None else f"{record['threshold']:g}")
        else:
            parts.append("{" + ",".join(str(b) for b in record["exit_bins"]) + "}")
    return "/".join(parts)


def save_table_policy(
    directory: str | os.PathLike[str],
    policy: TablePolicy,
    *,
    kind: str,
    metadata: Mapping[str, Any],
) -> Path:
    """Save a table policy as ``policy.npz`` (plain arrays) + ``policy.json`` (metadata).

    The archive holds ``actions`` (E-1, B) and, when present, ``q_values``
    (E-1, B, 2); the JSON records ``kind``, the implied thresholds, the
    archive's sha256 and ``metadata``. Both writes are atomic. Returns the
    directory.
    """
    directory = Path(directory)
    arrays: dict[str, NDArray[Any]] = {"actions": policy.actions}
    if policy.q_values is not None:
        arrays["q_values"] = policy.q_values
    archive = directory / "policy.npz"
    atomic_save_npz(archive, **arrays)
    record = {
        "kind": kind,
        "format": "table",
        "name": policy.name,
        "obs_type": "multidiscrete",
        "n_bins": policy.n_bins,
        "table_shape": list(policy.actions.shape),
        "thresholds": policy.thresholds(),
        "thresholds_text": format_thresholds(policy.thresholds()),
        "files": {"policy.npz": sha256_file(archive)},
        **dict(metadata),
    }
    atomic_write_json(directory / POLICY_FILE, record)
    return directory


POLICY_FORMATS: tuple[str, ...] = ("table", "sb3")
"""The ``format`` values of ``policy.json``: a table (``policy.npz``) or an SB3 run (``model.zip``)."""


def read_policy_record(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``directory/policy.json``; raise :class:`PolicyError` naming the bad field.

    The record must be a JSON object with ``format`` in :data:`POLICY_FORMATS`; ``files``
    (file name -> sha256), ``env`` (the environment record), ``name`` and ``obs_type``
    must have their types when present.
    """
    path = Path(directory) / POLICY_FILE
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "is missing"
        raise PolicyError(f"{path}: {what}; expected the saved policy's record (a JSON file)")
    record = read_json_object(path, PolicyError)
    if record.get("format") not in POLICY_FORMATS:
        fmt = record.get("format")
        raise PolicyError(f"{path}: 'format' must be one of {list(POLICY_FORMATS)}, got {fmt!r}")
    files = record.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise PolicyError(f"{path}: 'files' must map file names to sha256 strings, got {files!r:.80}")
    for key, kind, expected in (("env", dict, "an object"), ("name", str, "a string")):
        if key in record and not isinstance(record[key], kind):
            raise PolicyError(f"{path}: {key!r} must be {expected}, got {record[key]!r:.80}")
    if "obs_type" in record and record["obs_type"] not in OBS_TYPES:
        raise PolicyError(f"{path}: 'obs_type' must be one of {list(OBS_TYPES)}, got {record['obs_type']!r}")
    return record


def read_table_archive(archive: Path) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """``actions`` and ``q_values`` (or ``None``) of a saved table policy's ``policy.npz``."""
    if not zipfile.is_zipfile(archive):
        raise PolicyError(f"{archive}: not a readable .npz archive")
    try:
        with np.load(archive, allow_pickle=False) as data:
            if "actions" not in data.files:
                raise PolicyError(f"{archive}: lacks the array 'actions'; it holds {sorted(data.files)}")
            return data["actions"], data["q_values"] if "q_values" in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        if isinstance(err, PolicyError):
            raise
        raise PolicyError(f"{archive}: not a readable .npz archive ({err})") from err


def verified_file(directory: Path, name: str, record: Mapping[str, Any], what: str) -> Path:
    """The file ``name`` of a saved policy directory, checked against the sha256 its record holds.

    ``record`` is the directory's ``policy.json``; its ``files`` entry maps file
    names to the sha256 written when the policy was saved (a file it does not
    list is not checked). Raises ``FileNotFoundError`` naming ``what`` the file
    holds when it is missing, and ``ValueError`` when its sha256 differs.
    """
    path = directory / name
    if not path.exists():
        raise PolicyNotFoundError(f"{path}: {what} of the saved policy is missing")
    expected = record.get("files", {}).get(name)
    if expected and sha256_file(path) != expected:
        raise PolicyError(f"{path}: sha256 does not match {directory / POLICY_FILE}")
    return path
