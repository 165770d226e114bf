"""What the environment families (v0 and depth x time) share around their step functions.

Each family has its own tables; both step through the same pure function and table layout
(:func:`sparq_gym.envs.core.exit_step` on :func:`sparq_gym.envs.core.transition_tables`).
Everything around them is written once here: the in-memory trace source, the checks of
the constructor arguments, the base of the single environments (:class:`TraceReplayEnv`:
arguments, traces, sample draws) and of the vector environments
(:class:`TraceReplayVectorEnv`: the slots' state, reset and step, with per-slot
generators and draws, :class:`~sparq_gym.envs.draws.SlotDraws`, so that a slot seeded
with ``seed + i`` draws the same samples as a single environment seeded alike). A family
fills two hooks: ``_prepare``
(load its traces, build its tables) and ``_build`` (its step tables, spaces and episode
state).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from sparq_gym.envs.core import StepTables, draw_sample_block, exit_step
from sparq_gym.envs.draws import SlotDraws
from sparq_gym.envs.registration import ENV_TABLE
from sparq_gym.envs.settings import ExitSettings, ObsType, SettingsError
from sparq_gym.envs.trace_requests import check_trace_format, check_trace_identity
from sparq_gym.paths import NETWORKS
from sparq_gym.traces import SPLITS

__all__ = [
    "TraceReplayEnv",
    "TraceReplayVectorEnv",
    "check_render_mode",
    "check_vector_arguments",
    "load_traces",
    "missing_traces_message",
]

TracesT = TypeVar("TracesT")


BACKBONES: tuple[str, ...] = tuple(entry.backbone for entry in ENV_TABLE)
"""Backbones with shipped traces."""

def load_traces(
    kind: type[TracesT],
    kind_name: str,
    *,
    traces: Any,
    trace_dir_path: str | os.PathLike[str] | None,
    split: str | None,
    shipped: Callable[[str], tuple[Path, str]],
) -> TracesT:
    """Resolve the traces (of class ``kind``) an environment replays.

    Exactly one source is used, in this order: an in-memory ``traces`` object (its own
    split; a different ``split`` is an error), a user ``trace_dir_path``, or the shipped
    directory ``shipped(split)`` returns with the message of the ``FileNotFoundError``
    raised when it has no ``manifest.json`` (``shipped`` checks the family's own
    arguments first); ``split=None`` means ``"train"`` for the last two.
    """
    if traces is not None:
        if not isinstance(traces, kind):
            raise ValueError(f"traces must be a {kind_name}, got {type(traces).__name__}")
        if split is not None and split != traces.split:  # type: ignore[attr-defined]
            raise ValueError(
                f"split={split!r} conflicts with the given traces, which are split {traces.split!r}"  # type: ignore[attr-defined]
            )
        return traces
    split = "train" if split is None else split
    if trace_dir_path is not None:
        check_trace_format(trace_dir_path, kind_name)
        return kind.load(trace_dir_path, split=split)  # type: ignore[attr-defined,no-any-return]
    directory, missing = shipped(split)
    if not (directory / "manifest.json").exists():
        raise FileNotFoundError(missing)
    return kind.load(directory, split=split)  # type: ignore[attr-defined,no-any-return]


def check_shipped_request(backbone: str | None, network: str, split: str, container: str) -> str:
    """Check the arguments that name shipped traces (``ValueError`` naming the bad one); return
    the backbone. ``container`` names the in-memory alternative (``TraceSet``, ``TimeTraceSet``)."""
    if backbone is not None and backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {backbone!r}")
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {list(NETWORKS)}, got {network!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if backbone is None:
        raise ValueError(f"pass backbone (one of {list(BACKBONES)}), trace_dir=PATH or traces={container}")
    return backbone


def load_family_traces(
    container: type[Any], name: str, shipped_of: Callable[..., tuple[Path, str]], backbone: str | None,
    *, traces: Any = None, trace_dir_path: str | os.PathLike[str] | None = None, network: str = "qdsnn",
    split: str | None = None,
) -> Any:
    """Resolve the traces a family's environment replays: the in-memory ``traces`` (its own
    split), else ``trace_dir_path``, else the shipped ones (``shipped_of(backbone, network,
    split)``); ``split=None`` means ``"train"`` for the last two (:func:`load_traces`)."""
    loaded = load_traces(container, name, traces=traces, trace_dir_path=trace_dir_path, split=split,
                         shipped=partial(shipped_of, backbone, network))
    if traces is not None or trace_dir_path is not None:
        where = f"trace_dir {str(trace_dir_path)!r}" if trace_dir_path is not None else "the traces given"
        check_trace_identity(loaded.meta, backbone, network, where)
    return loaded


def prepare_tables(
    backbone: str | None, settings: ExitSettings, *, split: str | None,
    trace_dir: str | os.PathLike[str] | None, traces: Any,
    load: Callable[..., Any], build: Callable[..., Any],
) -> tuple[Any, Any]:
    """Load the traces the settings ask for (``load``) and precompute a family's tables (``build``).

    Shared by the single and the vector environment of a family, so both accept and reject
    exactly the same arguments with the same messages (the settings were checked when
    ``settings`` was built).
    """
    loaded = load(backbone, traces=traces, trace_dir_path=trace_dir, network=settings.network, split=split)
    tables = build(loaded, alpha=settings.alpha, n_bins=settings.n_bins, cost=settings.cost,
                   obs_type=settings.obs_type)
    return loaded, tables


def shipped_traces(
    backbone: str | None, network: str, split: str, *, container: str, folder: Callable[[str, str], Path],
    kind: str, note: str, instead: str,
) -> tuple[Path, str]:
    """A family's shipped trace directory for (backbone, network) and the message if it is missing.

    Checks the arguments first (:func:`check_shipped_request`); ``folder`` maps (backbone,
    network) to the directory; the message names the missing ``manifest.json``, the command
    that builds it (``note`` on what it needs) and what to do ``instead``.
    """
    backbone = check_shipped_request(backbone, network, split, container)
    directory = folder(backbone, network)
    problem = f"{directory / 'manifest.json'} does not exist"
    there = [n for n in NETWORKS if n != network and (folder(backbone, n) / "manifest.json").exists()]
    if there:
        problem += f" (the shipped {kind} of {backbone!r} are for network {there})"
    return directory, missing_traces_message(kind, backbone, network, problem, note, instead)


def missing_traces_message(
    kind: str, backbone: str, network: str, problem: str, note: str, instead: str
) -> str:
    """The message of missing shipped traces: what is missing, the command that builds them
    (``note`` on what it needs) and what to do ``instead``."""
    return (
        f"{kind} for backbone {backbone!r}, network {network!r} are missing: {problem}. Build them "
        f"with `sparq backbone pipeline {backbone}` ({note}), or {instead}."
    )


def warn_no_render_mode(env: gym.Env[Any, Any]) -> None:
    """Gymnasium's warning for ``render()`` on an environment made without a ``render_mode``."""
    spec = getattr(env, "spec", None)
    name = spec.id if spec is not None else type(env).__name__
    gym.logger.warn(
        "You are calling render method without specifying any render mode. You can specify the render_mode "
        f'at initialization, e.g. gym.make("{name}", render_mode="{env.metadata["render_modes"][0]}")'
    )


def check_render_mode(render_mode: str | None, metadata: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``render_mode`` is None or one of ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise SettingsError(
            f"render_mode must be None or one of {metadata['render_modes']}, got {render_mode!r}"
        )


def check_vector_arguments(
    num_envs: Any, autoreset_mode: AutoresetMode | str, render_mode: str | None, settings: dict[str, Any]
) -> tuple[AutoresetMode, ExitSettings]:
    """Check a vector environment's own arguments; return its autoreset mode and settings."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    modes = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
    try:
        mode = AutoresetMode(autoreset_mode)
    except ValueError as err:
        raise SettingsError(
            f"autoreset_mode must be one of {[m.value for m in modes]} (or AutoresetMode.NEXT_STEP / "
            f"SAME_STEP), got {autoreset_mode!r}"
        ) from err
    if mode not in modes:
        raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode}")
    if render_mode is not None:
        raise ValueError("the vector environment does not render; use render_mode=None")
    unknown = sorted(set(settings) - set(ExitSettings.__dataclass_fields__))
    if unknown:
        raise TypeError(
            f"unexpected keyword arguments {unknown}; the settings are "
            f"{list(ExitSettings.__dataclass_fields__)}"
        )
    return mode, ExitSettings(**settings)


class _FamilyHooks:
    """The two hooks an environment family fills in (single and vector alike)."""

    _prepare: Callable[..., tuple[Any, Any]]
    """The family's ``prepare_*_tables`` (a staticmethod): ``(traces, tables)`` for
    ``(backbone, settings, split=, trace_dir=, traces=)``."""

    def _build(self) -> None:
        """The family's spaces, step tables and episode (or slot) state, from ``self.tables``."""
        raise NotImplementedError


class TraceReplayEnv(_FamilyHooks, gym.Env[Any, Any]):
    """Base of the single environments: their arguments, traces, tables and sample draws.

    ``__init__`` checks ``render_mode`` against the class's ``metadata``, builds
    :class:`~sparq_gym.envs.settings.ExitSettings` from the keywords, loads the traces and
    tables with the family's ``_prepare``, sets the public attributes every environment
    has, then calls the family's ``_build``. Episodes start on samples drawn from
    ``self.np_random`` in blocks of :data:`~sparq_gym.envs.core.SAMPLE_BLOCK`
    (:func:`~sparq_gym.envs.core.draw_sample_block`); a new generator (seeding, or assigning
    ``np_random``) drops what the old one drew.
    """

    _draws: Iterator[Any] = iter(())  # the next starts drawn (sample indices, or a family's start tuples)
    traces: Any
    tables: Any

    def __init__(
        self,
        backbone: str | None = None,
        *,
        network: str = ExitSettings.network,
        split: str | None = None,
        alpha: float = ExitSettings.alpha,
        n_bins: int = ExitSettings.n_bins,
        cost: str = ExitSettings.cost,
        obs_type: ObsType = ExitSettings.obs_type,
        trace_dir: str | os.PathLike[str] | None = None,
        traces: Any = None,
        render_mode: str | None = None,
    ) -> None:
        """Build the environment; see the class docstring for every argument."""
        check_render_mode(render_mode, self.metadata)
        self.settings = ExitSettings(
            alpha=alpha, n_bins=n_bins, cost=cost, obs_type=obs_type, network=network
        )
        self.traces, self.tables = self._prepare(
            backbone, self.settings, split=split, trace_dir=trace_dir, traces=traces
        )
        self.backbone = self.traces.meta.get("backbone", backbone)
        self.network = self.traces.meta.get("network", network)
        self.split = self.traces.split
        self.alpha, self.n_bins = self.settings.alpha, self.settings.n_bins
        self.cost, self.obs_type = self.settings.cost, self.settings.obs_type
        self.render_mode = render_mode
        self._last_info: dict[str, Any] = {}
        self._build()

    @property
    def np_random(self) -> np.random.Generator:
        """The environment's generator (Gymnasium's), the source of every sample draw."""
        return gym.Env.np_random.fget(self)  # type: ignore[attr-defined,no-any-return]

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]
        self._draws = iter(())  # drawn from the old generator: draw anew from this one

    def _start_sample(self, options: dict[str, Any] | None, n_samples: int, error: type[Exception]) -> int:
        """``options["sample_index"]`` (checked: an integer in [0, N), else ``error``) or the next draw."""
        if options and "sample_index" in options:
            sample = options["sample_index"]
            if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
                raise error(f"options['sample_index'] must be an integer, got {sample!r}")
            if not 0 <= sample < n_samples:
                raise error(f"options['sample_index'] must lie in [0, {n_samples}), got {sample}")
            return int(sample)
        sample = next(self._draws, -1)
        if sample < 0:
            self._draws = iter(draw_sample_block(self.np_random, n_samples).tolist())
            sample = next(self._draws)
        return sample


class TraceReplayVectorEnv(_FamilyHooks, VectorEnv[Any, Any, Any]):
    """Base of the native vector environments: their arguments, traces, tables and spaces.

    ``__init__`` checks ``num_envs``, ``autoreset_mode`` and ``render_mode``
    (:func:`check_vector_arguments`), loads the traces and tables with the family's
    ``_prepare``, sets the public attributes, calls the family's ``_build`` (which sets the
    single action and observation spaces and its slot state) and batches the spaces.
    """

    traces: Any
    tables: Any

    def __init__(
        self,
        num_envs: int = 1,
        backbone: str | None = None,
        *,
        split: str | None = None,
        trace_dir: str | os.PathLike[str] | None = None,
        traces: Any = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **settings: Any,
    ) -> None:
        """Build ``num_envs`` slots over the same traces; ``settings`` are :class:`ExitSettings`'s
        keywords (``alpha``, ``n_bins``, ``cost``, ``obs_type``, ``network``), as for the single env."""
        mode, self.settings = check_vector_arguments(num_envs, autoreset_mode, render_mode, settings)
        self.traces, self.tables = self._prepare(
            backbone, self.settings, split=split, trace_dir=trace_dir, traces=traces
        )
        self.num_envs = int(num_envs)
        self.alpha, self.n_bins = self.settings.alpha, self.settings.n_bins
        self.cost, self.obs_type = self.settings.cost, self.settings.obs_type
        self.render_mode = render_mode
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self._started = False
        self._build()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    # ------------------------------------------------------------------
    # The slots' state and step, shared by both families (their ``_build`` calls _setup_slots).

    def _setup_slots(self, steps: StepTables, observations: NDArray[Any], stride: int) -> None:
        """Hold the family's step tables and per-state observations; make the slots' draws.

        :param steps: the family's :class:`~sparq_gym.envs.core.StepTables`.
        :param observations: what :meth:`_observe` gathers from, one row per state (or per
            ``state // (states per row)``, as the family's ``_observe`` reads it).
        :param stride: states per sample: sample i's episodes start at state ``i * stride``.
        """
        self._steps = steps
        self._observations = observations
        self._stride = stride
        self._pending = steps.pending
        self._pending_offset = np.int64(steps.pending)  # an int64 scalar: int32 draws + it are int64
        # Per slot: a generator and its drawn start states, stored in the narrowest integer
        # that holds a start state (below ``pending``): the draws table is the one large
        # table a step reads at random, so its width is memory traffic (uint16 against int32:
        # 7-12 % of a 4,096-slot step, A/B on this machine).
        dtype = next(t for t in (np.uint16, np.int32, np.int64) if steps.pending <= np.iinfo(t).max + 1)
        self._slot_draws = SlotDraws(self.num_envs, self.tables.n_samples, stride, dtype)
        # Per slot: its state, or pending + s0 once its episode has ended and the next one
        # (NEXT_STEP) starts at s0, drawn when the episode ended.
        self._state = np.zeros(self.num_envs, dtype=np.int64)
        self._resetting = False  # whether some slot is pending

    def _observe(self, states: NDArray[np.int64]) -> Any:
        """The observations of ``states`` (rows of the table given to :meth:`_setup_slots`)."""
        return self._observations.take(states, axis=0)

    def _reset_slots(self, seed: Any, options: dict[str, Any] | None) -> NDArray[np.int64]:
        """Seed and start every slot (``reset``); return the sample of each."""
        if self._started:
            # A slot whose episode ended drew its next start already: give it back, so the
            # reset draws it as a single environment's reset would.
            self._slot_draws.give_back(np.flatnonzero(self._state >= self._pending))
        self._slot_draws.reseed(seed, SettingsError)
        if options and "sample_index" in options:
            samples = self._sample_option(options["sample_index"])
        else:
            samples = self._slot_draws.take(np.arange(self.num_envs)).astype(np.int64) // self._stride
        self._state = samples * self._stride
        self._started = True
        self._resetting = False
        return samples

    def _sample_option(self, value: Any) -> NDArray[np.int64]:
        """``options["sample_index"]``: one integer, or one per slot, each in [0, N)."""
        n = self.num_envs
        try:
            index = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise SettingsError(f"options['sample_index'] must be integers, got {value!r}") from err
        if index.shape not in ((), (n,)):
            raise SettingsError(
                f"options['sample_index'] must be one integer or {n} integers (one per slot), "
                f"got shape {index.shape}"
            )
        index = np.broadcast_to(index, (n,))
        if not np.issubdtype(index.dtype, np.integer):
            raise SettingsError(f"options['sample_index'] must be integers, got {value!r}")
        if index.min() < 0 or index.max() >= self.tables.n_samples:
            raise SettingsError(
                f"options['sample_index'] must lie in [0, {self.tables.n_samples}), got {value!r}"
            )
        return index.astype(np.int64)

    def _add_reset_samples(
        self,
        info: dict[str, Any],
        state: NDArray[np.int64],
        next_state: NDArray[np.int64],
        terminated: NDArray[np.bool_],
    ) -> dict[str, Any]:
        """``NEXT_STEP``: add to a step's ``info`` the ``sample_index`` of the slots that were
        pending before it (``state``) and started their episode (at ``next_state``), in one
        array with the ended slots' own (``terminated``) and one mask over both, as
        ``SyncVectorEnv`` merges a reset's info with a final one."""
        reset = state >= self._pending
        info["sample_index"] = self._start_samples(next_state, reset, info.get("sample_index"))
        info["_sample_index"] = terminated | reset
        return info

    def _start_samples(
        self, next_state: NDArray[np.int64], started: Any, into: NDArray[np.int64] | None = None
    ) -> NDArray[np.int64]:
        """``sample_index`` of the slots ``started`` (a mask or indices) whose episode starts at
        ``next_state``, written into ``into`` (zeros, as SyncVectorEnv fills, when None)."""
        sample_index = np.zeros(self.num_envs, dtype=np.int64) if into is None else into
        sample_index[started] = next_state[started] // self._stride
        return sample_index

    def _advance(self, act: NDArray[np.int64]) -> tuple[Any, ...]:
        """One step of every slot (actions already checked): :func:`~sparq_gym.envs.core.exit_step`,
        the observations and the autoreset draws.

        A slot whose episode ends draws its next start now: under ``NEXT_STEP`` it waits on
        it as a pending state (its next step moves there with reward 0, the same look-up as
        any step); under ``SAME_STEP`` it starts there at once and its observation is the
        new episode's (the final one is returned apart).

        :return: ``(state, next_state, obs, reward, terminated, ended, final_obs)``: the
            states before the step, after it (the slots' new state), the observations, the
            rewards and terminations, the indices of the slots that ended, and the final
            observations (``SAME_STEP`` with some slot ended; else None).
        """
        state = self._state
        next_state, reward, terminated = exit_step(self._steps, state, act)
        obs = self._observe(next_state)
        ended = terminated.nonzero()[0]
        final_obs = None
        if ended.size:
            starts = self._slot_draws.take(ended)
            if self.autoreset_mode is AutoresetMode.NEXT_STEP:
                next_state[ended] = starts + self._pending_offset
            else:
                starts = starts.astype(np.int64)  # int64 values: the assignment's fast path
                next_state[ended] = starts
                final_obs, obs = obs, obs.copy()
                obs[ended] = self._observe(starts)
        self._state = next_state
        return state, next_state, obs, reward, terminated, ended, final_obs
