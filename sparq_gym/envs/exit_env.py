"""The single SPARQ early-exit environment."""

from __future__ import annotations

from functools import partial
from itertools import repeat
from typing import Any, SupportsFloat

import numpy as np
from gymnasium import spaces
from gymnasium.error import InvalidAction, ResetNeeded

from sparq_gym.envs.common import (
    TraceReplayEnv,
    load_family_traces,
    prepare_tables,
    shipped_traces,
    warn_no_render_mode,
)
from sparq_gym.envs.core import Action, build_exit_tables, draw_sample_block, end_cell, exit_step, step_tables
from sparq_gym.envs.info import LazyInfo
from sparq_gym.envs.registration import ENV_TABLE
from sparq_gym.envs.settings import OBS_TYPES, RenderModes, SettingsError, check_reset_arguments
from sparq_gym.errors import SparqError
from sparq_gym.paths import trace_dir
from sparq_gym.traces import TraceSet

__all__ = [
    "InvalidActionError",
    "SPARQExitEnv",
    "load_exit_traces",
    "make_observation_space",
    "prepare_exit_tables",
    "shipped_exit_traces",
]

BACKBONES: tuple[str, ...] = tuple(entry.backbone for entry in ENV_TABLE)
_ACTION_OF = {0: 0, 1: 1}
_PLAIN_ACTION_TYPES = frozenset({int, bool, Action})  # types Discrete(2).contains accepts as is


class InvalidActionError(InvalidAction, SparqError):
    """An action outside ``Discrete(2)`` (0 = CONTINUE, 1 = EXIT): Gymnasium's ``InvalidAction``
    and the project's :class:`~sparq_gym.errors.SparqError` (a ``ValueError``)."""


shipped_exit_traces = partial(
    shipped_traces, container="TraceSet", folder=trace_dir, kind="pretrained traces",
    note="needs the datasets", instead="make the environment from your own traces with trace_dir=PATH",
)
"""``(backbone, network, split) -> (directory, message if missing)`` of the shipped v0 traces."""


load_exit_traces = partial(load_family_traces, TraceSet, "sparq_gym.traces.TraceSet", shipped_exit_traces)
"""``(backbone, *, traces=None, trace_dir_path=None, network="qdsnn", split=None) -> TraceSet``:
the traces a v0 environment replays (:func:`~sparq_gym.envs.common.load_family_traces`)."""


prepare_exit_tables = partial(prepare_tables, load=load_exit_traces, build=build_exit_tables)
"""``(backbone, settings, *, split, trace_dir, traces) -> (TraceSet, ExitTables)``
(:func:`~sparq_gym.envs.common.prepare_tables` for the v0 family)."""


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


class SPARQExitEnv(TraceReplayEnv):
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
    ``network``      ``"qdsnn"``          ``"qdsnn"``, ``"dynamic_ann"``, ``"snn"``,
                                          ``"multilevel"`` (seed 004: multi-level spikes,
                                          T=1) or ``"spquant"`` (seed 002: integer
                                          membrane, pruned, 4-bit linear weights)
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
    * v0, unchanged meaning (same transitions for the same seeds and arguments): bad
      arguments are refused that were accepted before (``alpha < 0``, ``n_bins > 1000``,
      non-dict ``options``), ``render_mode="rgb_array"`` added, the ansi line shows the cost
      so far, and the native vector env builds its info on first read.
    * v0, unchanged meaning: ``network`` also takes ``"multilevel"`` and ``"spquant"``, the
      related seeds' networks (new trace sets; the default ``"qdsnn"`` is what it was).
    * v0, unchanged meaning (same transitions, observations and info values for the same
      seeds): the info of an episode's last step is a ``dict`` built when first read
      (:class:`~sparq_gym.envs.info.LazyInfo`), and array observations are rows of one
      gather per block of drawn images (new memory for every return, as before).
    * v0, same rules: the AlexNet ``network="spquant"`` traces are a new fine-tuning of
      seed 002's network (85.27 % on ``test``, was 83.13 %), so returns on that one trace set
      differ from before; every other trace set, and the default, is what it was.
    * v0, unchanged meaning: ``rgb_array`` frames are 256 x 256 with text (id, step and action,
      confidences and classes of the heads reached, cost in numbers, verdict and reward), and a
      head not reached yet is drawn empty (its confidence is not shown before the agent sees it).
    """

    metadata: dict[str, Any] = {"render_modes": RenderModes(["ansi", "rgb_array"]), "render_fps": 4}

    _prepare = staticmethod(prepare_exit_tables)

    def _build(self) -> None:
        """Spaces, step tables, final-info cells and observations of every state (``__init__``)."""
        obs_type = self.obs_type
        self.n_exits = self.traces.n_exits
        self.action_space = spaces.Discrete(2)
        self.observation_space = make_observation_space(obs_type, self.n_exits - 1, self.n_bins)

        t = self.tables
        self._steps = step_tables(t)
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
        # The observation of every state, listed twice (states s and s + 1 share it): a step
        # that ends the episode returns row s + 1, a copy of what the agent saw at s, so no two
        # returns share memory (users keep what they receive; Gymnasium's checker tests it).
        flat_obs = t.observation.reshape(t.n_samples * self._n_early, *t.observation.shape[2:])
        self._obs_table = flat_obs.repeat(2, axis=0)
        self._obs_ints: list[int] | None = self._obs_table.tolist() if obs_type == "discrete" else None
        self._state = -1  # 2 (sample * (E-1) + early exit); -1 when no episode runs
        self._base = 0  # the episode's first state, whose observation is _episode_obs[0]
        self._episode_obs: Any = self._obs_ints

    # ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode on a random image of the split, or on ``options["sample_index"]``."""
        if seed is None and options is None:  # a training loop's plain reset()
            start = next(self._draws, None)
            if start is None:
                start = self._draw_block()
        else:
            start = self._start_with(check_reset_arguments(seed, options), options)
        sample, self._state, self._base, self._episode_obs, obs = start
        return obs, {"sample_index": sample}

    def _draw_block(self) -> tuple[int, int, int, Any, Any]:
        """Draw the next block of samples from ``np_random``; return its first start.

        ``_draws`` then yields one ``(sample, state, base, observations, first)`` per
        episode: with array observations, ``observations`` is that episode's own rows (a slice
        of one fresh gather per block, so each episode's observations are new memory),
        ``base`` its first state and ``first`` its first row; with integer observations, the
        shared list of every state's, 0 and the first one.
        """
        samples = draw_sample_block(self.np_random, self.tables.n_samples)
        states = samples * self._stride
        if self._obs_ints is not None:
            firsts = [self._obs_ints[state] for state in states.tolist()]
            starts = zip(samples.tolist(), states.tolist(), repeat(0), repeat(self._obs_ints), firsts)
        else:
            rows = self._obs_table.take(states[:, None] + np.arange(self._stride), axis=0)
            starts = zip(samples.tolist(), states.tolist(), states.tolist(), rows, rows[:, 0])
        self._draws = starts
        return next(starts)

    def _start_with(
        self, seed: int | None, options: dict[str, Any] | None
    ) -> tuple[int, int, int, Any, Any]:
        """The start of a ``reset`` given a seed or options (checked by ``reset``)."""
        if seed is not None:  # Gymnasium's reset does nothing but seed np_random
            super().reset(seed=seed)
            self._draws = iter(())
        if not (options and "sample_index" in options):
            return next(self._draws, None) or self._draw_block()
        sample = self._start_sample(options, self.tables.n_samples, SettingsError)
        state = sample * self._stride
        if self._obs_ints is not None:
            return sample, state, 0, self._obs_ints, self._obs_ints[state]
        rows = self._obs_table[state : state + self._stride].copy()
        return sample, state, state, rows, rows[0]

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply CONTINUE (0) or EXIT (1) at the current early exit."""
        act = _ACTION_OF.get(action, -1) if type(action) in _PLAIN_ACTION_TYPES else -1
        if act < 0:
            act = self._coerce_action(action)
        state = self._state
        if state < 0:
            raise ResetNeeded("call reset() before step(): the episode has ended or never started")
        next_state, reward, terminated = exit_step(self._steps, state, act)
        if not terminated:
            self._state = next_state
            return self._episode_obs[next_state - self._base], 0.0, False, False, {}
        self._state = -1
        # Row s + 1: a copy of the last observation. The info is built when first read.
        self._last_info = info = LazyInfo(self._final_info, end_cell(self._steps, state, act))
        return self._episode_obs[state + 1 - self._base], reward, True, False, info

    def _final_info(self, cell: int) -> dict[str, Any]:
        """The final info of an episode that ended in ``cell = sample * E + exit`` (fresh dicts).

        Built once per cell and copied on every call (the info and its ``counters``), so a
        caller may modify what it receives; the cache holds at most N x E entries (about 1 kB
        each).
        """
        cached = self._info_cache.get(cell) or self._cell_info(cell)
        info = cached[0].copy()
        info["counters"] = cached[1].copy()
        return info

    def _cell_info(self, cell: int) -> tuple[dict[str, Any], dict[str, int]]:
        """The cached values of :meth:`_final_info`."""
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
        return cached

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
            warn_no_render_mode(self)
            return None
        from sparq_gym.envs.render import RenderView, render_ansi, render_rgb, sample_image, with_reward

        ended = self._state < 0
        if ended:
            sample = self._last_info["sample_index"] if self._last_info else None
            k = None
        else:
            sample, k = divmod(self._state // 2, self._n_early)
        last = with_reward(dict(self._last_info), self.alpha) if ended and self._last_info else None
        image = None
        if sample is not None and self.render_mode == "rgb_array":
            image = sample_image(self.traces, sample, self.__dict__.setdefault("_image_cache", {}))
        view = RenderView(self.tables, self.n_bins, sample, k, last, title=self._render_title(),
                          head_names=tuple(self.traces.exit_names), cost=self.cost, image=image)
        return render_ansi(view) if self.render_mode == "ansi" else render_rgb(view)

    def _render_title(self) -> str:
        """The frame's first line: the id (or the class) and the split."""
        name = self.spec.id if self.spec is not None else type(self).__name__
        return f"{name} {self.split}"

    @property
    def action_names(self) -> list[str]:
        """Names of the actions by index."""
        return [a.name for a in Action]
