"""The single SPARQ early-exit environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import InvalidAction, ResetNeeded

from sparq_gym.envs.core import (
    Action,
    ExitTables,
    build_exit_tables,
    draw_sample_block,
    exit_step,
    step_tables,
)
from sparq_gym.envs.registration import ENV_TABLE
from sparq_gym.envs.settings import OBS_TYPES, ExitSettings, ObsType, SettingsError, check_reset_arguments
from sparq_gym.paths import NETWORKS, trace_dir
from sparq_gym.traces import SPLITS, TraceSet

__all__ = [
    "InvalidActionError",
    "SPARQExitEnv",
    "load_env_traces",
    "make_observation_space",
    "prepare_exit_tables",
]

BACKBONES: tuple[str, ...] = tuple(entry.backbone for entry in ENV_TABLE)
_ACTION_OF = {0: 0, 1: 1}
_PLAIN_ACTION_TYPES = frozenset({int, bool, Action})  # types Discrete(2).contains accepts as is


class InvalidActionError(InvalidAction, ValueError):
    """An action outside ``Discrete(2)`` (0 = CONTINUE, 1 = EXIT)."""


def load_env_traces(
    backbone: str | None,
    *,
    traces: TraceSet | None = None,
    trace_dir_path: str | os.PathLike[str] | None = None,
    network: str = "qdsnn",
    split: str | None = None,
) -> TraceSet:
    """Resolve the traces an environment replays.

    Exactly one source is used, in this order: an in-memory ``traces`` object
    (its own split; a different ``split`` is an error), a user
    ``trace_dir_path``, or the shipped ``pretrained/<backbone>/<network>``;
    ``split=None`` means ``"train"`` for the last two. A missing shipped
    artifact raises ``FileNotFoundError`` naming the file and the command that
    builds it.
    """
    if traces is not None:
        if not isinstance(traces, TraceSet):
            raise ValueError(f"traces must be a sparq_gym.traces.TraceSet, got {type(traces).__name__}")
        if split is not None and split != traces.split:
            raise ValueError(
                f"split={split!r} conflicts with the given traces, which are split {traces.split!r}"
            )
        return traces
    split = "train" if split is None else split
    if trace_dir_path is not None:
        return TraceSet.load(trace_dir_path, split=split)
    if backbone is not None and backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {backbone!r}")
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {list(NETWORKS)}, got {network!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if backbone is None:
        raise ValueError(f"pass backbone (one of {list(BACKBONES)}), trace_dir=PATH or traces=TraceSet")
    directory = trace_dir(backbone, network)
    if not (directory / "manifest.json").exists():
        raise FileNotFoundError(
            f"pretrained traces for backbone {backbone!r}, network {network!r} are missing: "
            f"{directory / 'manifest.json'} does not exist. Build them with "
            f"`sparq backbone pipeline {backbone}` (needs the datasets), or make the environment "
            "from your own traces with trace_dir=PATH."
        )
    return TraceSet.load(directory, split=split)


def prepare_exit_tables(
    backbone: str | None,
    settings: ExitSettings,
    *,
    split: str | None,
    trace_dir: str | os.PathLike[str] | None,
    traces: TraceSet | None,
) -> tuple[TraceSet, ExitTables]:
    """Load the traces the settings ask for and precompute the tables.

    Shared by the single and the vector environment, so both accept and reject
    exactly the same arguments with the same messages (the settings were
    checked when ``settings`` was built).
    """
    loaded = load_env_traces(
        backbone, traces=traces, trace_dir_path=trace_dir, network=settings.network, split=split
    )
    tables = build_exit_tables(
        loaded, alpha=settings.alpha, n_bins=settings.n_bins, cost=settings.cost, obs_type=settings.obs_type
    )
    return loaded, tables


def make_observation_space(obs_type: str, n_early_exits: int, n_bins: int) -> spaces.Space[Any]:
    """The observation space of one environment for ``obs_type``."""
    if obs_type == "multidiscrete":
        return spaces.MultiDiscrete([n_early_exits, n_bins])
    if obs_type == "discrete":
        return spaces.Discrete(n_early_exits * n_bins)
    if obs_type == "box":
        dim = 3 + n_early_exits
        return spaces.Box(low=0.0, high=1.0, shape=(dim,), dtype=np.float32)
    raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")


class SPARQExitEnv(gym.Env[Any, Any]):
    """Decide, exit by exit, whether a quantized spiking network may stop early on one image.

    ## Description
    One episode is one input image travelling through a network with early-exit
    heads (by default the INT8, T=4 quantized dynamic SNN, "QDSNN", of the SPARQ
    paper). At each early exit the agent sees which exit it is at and how
    confident that exit's head is, and decides to **EXIT** (use this head's
    prediction) or **CONTINUE** to the next exit; continuing past the last early
    exit uses the final head. The network is not run: every head's softmax and
    every operation count were extracted per image beforehand (the *traces*),
    so a step is a table look-up.

    ## Action Space
    ``Discrete(2)``: :class:`~sparq_gym.envs.core.Action` ``CONTINUE = 0``,
    ``EXIT = 1``.

    ## Observation Space
    With E exits (the final head included) and B = ``n_bins``, the agent is at
    early exit k in 0..E-2 and head k's confidence is c = max softmax:

    ================== ==================================== =========================================
    ``obs_type``       space                                value
    ================== ==================================== =========================================
    ``multidiscrete``  ``MultiDiscrete([E-1, B])``          ``(k, b)``, ``b = min(floor(c*B), B-1)``
    ``discrete``       ``Discrete((E-1)*B)``                ``k*B + b`` (for tabular code)
    ``box``            ``Box(0, 1, (3+E-1,), float32)``     ``[c, entropy/log C, top1-top2,
                                                            one-hot(k)]`` (for deep RL)
    ================== ==================================== =========================================

    The observation returned with ``terminated=True`` repeats the last decision
    point's observation; the episode is over and it carries no new information.

    ## Rewards
    Ending the episode with exit e's prediction gives ``+1 + alpha * s_e`` if it
    is right and ``-1`` if it is wrong, with savings
    ``s_e = 1 - C_e / C_full``: C_e is the cumulative cost of reaching exit e
    (the exit heads passed on the way included) and C_full the cost of the
    plain network without heads, both for this image under ``cost``. A path
    through every head can cost more than the plain network, so ``s_e`` may be
    negative. A CONTINUE that does not end the episode gives 0.

    ## Starting State
    ``reset`` draws an image uniformly from the split with ``self.np_random``
    (or takes ``options={"sample_index": i}``) and places the agent at the
    first early exit, k = 0.

    ## Episode End
    Terminated by EXIT at any early exit, or by CONTINUE at the last early exit
    (the final head decides). Episodes last at most E-1 steps, so there is no
    truncation.

    ## Information
    ``reset`` returns ``{"sample_index"}``. The last step returns
    ``sample_index``, ``label``, ``exit`` (index of the head used, E-1 = final),
    ``prediction``, ``correct``, ``confidence`` (of the head used), ``cost``
    (C_e), ``savings`` (s_e) and ``counters`` (the raw counters of the path,
    name -> count). Other steps return ``{}``.

    ## Arguments
    ================ ==================== ========================================================
    argument         default              meaning
    ================ ==================== ========================================================
    ``backbone``     ``None``             ``"mlp"``, ``"lenet"`` or ``"alexnet"``: shipped traces
    ``network``      ``"qdsnn"``          ``"qdsnn"``, ``"dynamic_ann"`` or ``"snn"``
    ``split``        ``None``             ``"train"`` (the hold-out: train and tune here) or
                                          ``"test"``; ``None``: ``"train"``, or the split of
                                          ``traces``
    ``alpha``        ``0.3``              weight of the savings in the reward
    ``n_bins``       ``10``               B, number of confidence bins
    ``cost``         ``"total_ops"``      what savings are measured in
                                          (:mod:`sparq_gym.envs.costs`)
    ``obs_type``     ``"multidiscrete"``  ``"multidiscrete"``, ``"discrete"`` or ``"box"``
    ``trace_dir``    ``None``             load traces from this directory (your own extraction)
    ``traces``       ``None``             use this in-memory :class:`~sparq_gym.traces.TraceSet`
    ``render_mode``  ``None``             ``None``, ``"ansi"`` (a text line per decision) or
                                          ``"rgb_array"`` (confidence bars and cost; see
                                          :mod:`sparq_gym.envs.render`)
    ================ ==================== ========================================================

    ## Example
    >>> from sparq_gym.traces import make_synthetic_traces
    >>> env = SPARQExitEnv(traces=make_synthetic_traces(100, seed=0), alpha=0.3)
    >>> obs, info = env.reset(seed=0, options={"sample_index": 3})
    >>> obs.tolist(), info
    ([0, 9], {'sample_index': 3})
    >>> obs, reward, terminated, truncated, info = env.step(Action.EXIT)
    >>> terminated, info["exit"], info["correct"], round(info["savings"], 6), round(reward, 6)
    (True, 0, True, 0.7, 1.21)

    ## Version History
    * v0: Initial version: observation (exit, binned confidence), reward
      ``+1 + alpha * savings`` / ``-1``, savings from per-sample counts.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

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
        traces: TraceSet | None = None,
        render_mode: str | None = None,
    ) -> None:
        """Build the environment; see the class docstring for every argument."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.settings = ExitSettings(
            alpha=alpha, n_bins=n_bins, cost=cost, obs_type=obs_type, network=network
        )
        self.traces, self.tables = prepare_exit_tables(
            backbone, self.settings, split=split, trace_dir=trace_dir, traces=traces
        )
        self.backbone = self.traces.meta.get("backbone", backbone)
        self.network = self.traces.meta.get("network", network)
        self.split = self.traces.split
        self.alpha = self.settings.alpha
        self.n_bins = self.settings.n_bins
        self.cost = cost
        self.obs_type: ObsType = obs_type
        self.render_mode = render_mode
        self.n_exits = self.traces.n_exits
        self.action_space = spaces.Discrete(2)
        self.observation_space = make_observation_space(obs_type, self.n_exits - 1, self.n_bins)

        t = self.tables
        self._steps = step_tables(t, as_lists=True)
        self._no_end = self._steps.no_end
        self._n_early = t.n_early_exits
        self._stride = 2 * t.n_early_exits  # states per sample
        # Final-info values packed per (sample, exit) cell: one integer row and one float row.
        self._int_cells = np.concatenate(
            [
                np.stack(
                    [t.labels.repeat(self.n_exits), t.predictions.reshape(-1), t.correct.reshape(-1)], 1
                ),
                t.counts.reshape(self._no_end, -1),
            ],
            axis=1,
        ).astype(np.int64)
        self._float_cells = np.stack(
            [t.confidence.reshape(-1), t.cost.reshape(-1), t.savings.reshape(-1)], axis=1
        )
        self._counter_names = t.counter_names
        self._info_cache: dict[int, tuple[dict[str, Any], dict[str, int]]] = {}
        # One small array (or an int) per state, each listed twice (states s and s + 1 share
        # it); arrays are copied on return, as users keep what they receive (Gymnasium's
        # checker asserts fresh observation data).
        flat_obs = t.observation.reshape(t.n_samples * self._n_early, *t.observation.shape[2:])
        per_state = flat_obs.tolist() if obs_type == "discrete" else list(flat_obs)
        self._obs_list: list[Any] = [obs for obs in per_state for _ in range(2)]
        self._copy_obs = obs_type != "discrete"
        self._state = -1  # 2 (sample * (E-1) + early exit); -1 when no episode runs
        self._draws: Iterator[int] = iter(())
        self._last_info: dict[str, Any] = {}

    # ------------------------------------------------------------------
    @property
    def np_random(self) -> np.random.Generator:
        """The environment's generator (Gymnasium's), the source of every sample draw."""
        return gym.Env.np_random.fget(self)  # type: ignore[attr-defined,no-any-return]

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]
        self._draws = iter(())  # drawn from the old generator: draw anew from this one

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode on a random image of the split, or on ``options["sample_index"]``."""
        if seed is not None or options is not None:  # the plain reset() of a training loop skips this
            seed = check_reset_arguments(seed, options)
        if seed is not None:  # Gymnasium's reset does nothing but seed np_random: skip the call otherwise
            super().reset(seed=seed)
            self._draws = iter(())
        if options and "sample_index" in options:
            sample = options["sample_index"]
            if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
                raise SettingsError(f"options['sample_index'] must be an integer, got {sample!r}")
            if not 0 <= sample < self.tables.n_samples:
                raise SettingsError(
                    f"options['sample_index'] must lie in [0, {self.tables.n_samples}), got {sample}"
                )
            sample = int(sample)
        else:
            sample = next(self._draws, -1)
            if sample < 0:
                self._draws = iter(draw_sample_block(self.np_random, self.tables.n_samples).tolist())
                sample = next(self._draws)
        state = self._state = sample * self._stride
        obs = self._obs_list[state]
        return (obs.copy() if self._copy_obs else obs), {"sample_index": sample}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply CONTINUE (0) or EXIT (1) at the current early exit."""
        act = _ACTION_OF.get(action, -1) if type(action) in _PLAIN_ACTION_TYPES else -1
        if act < 0:
            act = self._coerce_action(action)
        state = self._state
        if state < 0:
            raise ResetNeeded("call reset() before step(): the episode has ended or never started")
        state, reward, cell = exit_step(self._steps, state, act)
        obs = self._obs_list[state]
        if cell == self._no_end:
            self._state = state
            return (obs.copy() if self._copy_obs else obs), 0.0, False, False, {}
        self._state = -1
        return (obs.copy() if self._copy_obs else obs), reward, True, False, self._final_info(cell)

    def _final_info(self, cell: int) -> dict[str, Any]:
        """Info of an episode that ended in ``cell = sample * E + exit`` (fresh dicts).

        Built once per cell and copied on every return, so a caller may modify what it
        receives; the cache holds at most N x E entries (about 1 kB each).
        """
        cached = self._info_cache.get(cell)
        if cached is None:
            label, prediction, correct, *counts = self._int_cells[cell].tolist()
            confidence, cost, savings = self._float_cells[cell].tolist()
            sample, exit_index = divmod(cell, self.n_exits)
            cached = self._info_cache[cell] = (
                {
                    "sample_index": sample,
                    "label": label,
                    "exit": exit_index,
                    "prediction": prediction,
                    "correct": correct == 1,
                    "confidence": confidence,
                    "cost": cost,
                    "savings": savings,
                },
                dict(zip(self._counter_names, counts)),
            )
        info = cached[0].copy()
        info["counters"] = cached[1].copy()
        self._last_info = info
        return info

    def _coerce_action(self, action: Any) -> int:
        """A numpy integer scalar (or 0-d array) 0 or 1; anything else is not in ``Discrete(2)``."""
        if isinstance(action, (np.integer, np.ndarray)) and not isinstance(action, bool):
            value = np.asarray(action)
            if value.ndim == 0 and np.issubdtype(value.dtype, np.integer) and int(value) in _ACTION_OF:
                return int(value)
        raise InvalidActionError(f"action must be 0 (CONTINUE) or 1 (EXIT) from Discrete(2), got {action!r}")

    def render(self) -> str | np.ndarray[Any, np.dtype[np.uint8]] | None:
        """``"ansi"``: one text line per decision; ``"rgb_array"``: a frame (:mod:`sparq_gym.envs.render`)."""
        if self.render_mode is None:
            return None
        from sparq_gym.envs.render import RenderView, render_ansi, render_rgb

        ended = self._state < 0
        if ended:
            sample = self._last_info["sample_index"] if self._last_info else None
            k = None
        else:
            sample, k = divmod(self._state // 2, self._n_early)
        view = RenderView(self.tables, self.n_bins, sample, k, self._last_info if ended else None)
        return render_ansi(view) if self.render_mode == "ansi" else render_rgb(view)

    @property
    def action_names(self) -> list[str]:
        """Names of the actions by index."""
        return [a.name for a in Action]
