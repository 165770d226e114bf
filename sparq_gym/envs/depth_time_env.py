"""The single SPARQ depth x time early-exit environment (spec §9)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, SupportsFloat

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from sparq_gym.envs.common import (
    TraceReplayEnv,
    load_family_traces,
    prepare_tables,
    shipped_traces,
    warn_no_render_mode,
)
from sparq_gym.envs.core import end_cell, exit_step
from sparq_gym.envs.depth_time_core import (
    DepthTimeAction,
    DepthTimeTables,
    box_dim,
    build_depth_time_tables,
    depth_time_step_tables,
    enumerate_states,
)
from sparq_gym.envs.exit_env import InvalidActionError
from sparq_gym.envs.info import LazyInfo
from sparq_gym.envs.registration import DEPTH_TIME_TABLE
from sparq_gym.envs.settings import OBS_TYPES, RenderModes, SettingsError, check_reset_arguments
from sparq_gym.paths import pretrained_root
from sparq_gym.traces.timeset import TimeTraceSet

__all__ = [
    "INVALID_ACTION_RULES",
    "SPARQDepthTimeEnv",
    "check_invalid_action",
    "depth_time_observation_space",
    "final_info",
    "load_time_traces",
    "prepare_depth_time_tables",
    "shipped_time_traces",
    "time_trace_dir",
]

INVALID_ACTION_RULES: tuple[str, ...] = ("exit", "raise")
"""What a masked action does: ``"exit"`` (taken as EXIT, ``info["invalid_action"]`` True; the
default, so that the field's generic tools may send any action) or ``"raise"`` (the strict rule)."""

BACKBONES: tuple[str, ...] = tuple(entry.backbone for entry in DEPTH_TIME_TABLE)
_ACTIONS = (0, 1, 2)


def time_trace_dir(backbone: str, network: str = "qdsnn") -> Path:
    """Directory of the shipped depth-time traces: ``pretrained/<backbone>/<network>_time``."""
    return pretrained_root() / backbone / f"{network}_time"


shipped_time_traces = partial(
    shipped_traces,
    container="TimeTraceSet",
    folder=lambda backbone, net: time_trace_dir(backbone, net),
    kind="depth-time traces",
    note="the depth-time extraction stage",
    instead="pass trace_dir=PATH or traces=TimeTraceSet",
)
"""``(backbone, network, split) -> (directory, message if missing)`` of the shipped depth-time traces."""


load_time_traces = partial(
    load_family_traces, TimeTraceSet, "sparq_gym.traces.timeset.TimeTraceSet", shipped_time_traces
)
"""``(backbone, *, traces=None, trace_dir_path=None, network="qdsnn", split=None) -> TimeTraceSet``:
the traces a depth x time environment replays (:func:`~sparq_gym.envs.common.load_family_traces`)."""


prepare_depth_time_tables = partial(prepare_tables, load=load_time_traces, build=build_depth_time_tables)
"""``(backbone, settings, *, split, trace_dir, traces) -> (TimeTraceSet, DepthTimeTables)``
(:func:`~sparq_gym.envs.common.prepare_tables` for the depth x time family)."""


def depth_time_observation_space(
    obs_type: str, n_exits: int, n_timesteps: int, n_bins: int
) -> spaces.Space[Any]:
    """The observation space of one depth-time environment for ``obs_type``."""
    if obs_type == "multidiscrete":
        return spaces.MultiDiscrete([n_exits, n_timesteps, n_bins])
    if obs_type == "discrete":
        return spaces.Discrete(n_exits * n_timesteps * n_bins)
    if obs_type == "box":
        return spaces.Box(low=0.0, high=1.0, shape=(box_dim(n_exits, n_timesteps),), dtype=np.float32)
    raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")


class SPARQDepthTimeEnv(TraceReplayEnv):
    """Decide, head by head and timestep by timestep, when a spiking network may answer.

    ## Description
    A spiking network with early-exit heads runs for up to T timesteps, and it is
    causal in time: head k's prediction after t timesteps, p[k, t], needs only
    the blocks up to head k run for t timesteps. One episode is one image. At a
    decision point (k, t) the agent may **EXIT** (answer p[k, t]), **CONTINUE**
    (run the blocks up to head k+1 for the same t timesteps and evaluate head
    k+1), or **WAIT** (run one more timestep of every block up to k and of
    head k). The episode starts at (0, 1). Every softmax and count comes from
    per-image traces (:class:`~sparq_gym.traces.timeset.TimeTraceSet`), so a step
    is a table look-up.

    ## Action Space
    ``Discrete(3)``: :class:`~sparq_gym.envs.depth_time_core.DepthTimeAction`
    ``CONTINUE = 0``, ``EXIT = 1``, ``WAIT = 2``. CONTINUE at the final head and
    WAIT at t = T are invalid: :meth:`action_masks` (the bool array of 3 that
    sb3-contrib's MaskablePPO reads) and ``info["action_mask"]`` say which
    actions are valid. Every action of the space is accepted: a masked one is
    taken as EXIT (the one action valid everywhere) and the step's
    ``info["invalid_action"]`` is True, so SB3's ``check_env``, RL Zoo's
    evaluation callback and unmasked agents may send any action;
    ``invalid_action="raise"`` makes a masked action raise ``InvalidActionError``
    instead. At (E-1, T) only EXIT is valid.

    ## Observation Space
    With E heads (the final one included), T timesteps, B = ``n_bins`` and c =
    max softmax of p[k, t]:

    ================== ====================================== =======================================
    ``obs_type``       space                                  value
    ================== ====================================== =======================================
    ``multidiscrete``  ``MultiDiscrete([E, T, B])``           ``(k, t-1, b)``, ``b = min(floor(c*B), B-1)``
    ``discrete``       ``Discrete(E*T*B)``                    ``(k*T + t-1)*B + b``
    ``box``            ``Box(0, 1, (T+E+4,), float32)``       ``[c_k(1..t) padded with 0 to T,
                                                              entropy/log C, top1-top2, one-hot(k),
                                                              t/T, min(C_so_far/C_full, 1)]``
    ================== ====================================== =======================================

    C_so_far is the cost of the path to the decision point, head k's t timesteps
    included; it can pass C_full and is clipped at 1 in the observation. The
    observation returned with ``terminated=True`` repeats the last decision point's.

    ## Rewards
    EXIT at (k, t) gives ``+1 + alpha * (1 - C / C_full)`` if p[k, t]'s argmax is
    the label and ``-1`` otherwise; CONTINUE and WAIT give 0. The path cost is
    ``C = block(k, t) + sum_j head(j, t_j)`` over the heads j visited (k
    included), where block(k, t) is the cost of the blocks feeding head k run
    for t timesteps, and t_j the timesteps head j had run when the agent left it
    (a head left behind is not run further). C_full is the plain network for T
    timesteps; both under ``cost``. Waiting to T at head 0 and then acting as in
    v0 gives exactly :class:`~sparq_gym.envs.exit_env.SPARQExitEnv`'s rewards on
    the v0 traces :meth:`~sparq_gym.traces.timeset.TimeTraceSet.to_v0` derives.

    ## Starting State
    ``reset`` draws an image uniformly from the split with ``self.np_random`` (or
    takes ``options={"sample_index": i}``); the agent is at head 0 after 1 timestep.

    ## Episode End
    Terminated by EXIT (the only valid action at (E-1, T)); at most E + T - 1
    steps, so there is no truncation.

    ## Information
    Every ``reset`` and step returns ``action_mask`` (bool array of 3; at the end, the
    mask of the decision point where EXIT was taken); every step returns
    ``invalid_action`` (True when the action was masked and taken as EXIT). ``reset`` adds
    ``sample_index``; the last step adds ``sample_index``, ``label``, ``exit``
    (head k), ``timesteps`` (t), ``prediction``, ``correct``, ``confidence``,
    ``cost`` (C), ``savings`` (1 - C / C_full) and ``counters`` (raw counters of
    the path, name -> count).

    ## Arguments
    ================ ==================== ========================================================
    argument         default              meaning
    ================ ==================== ========================================================
    ``backbone``     ``None``             ``"mlp"``, ``"lenet"`` or ``"alexnet"``: shipped traces
                                          in ``pretrained/<backbone>/<network>_time``
    ``network``      ``"qdsnn"``          the network variant: ``"qdsnn"`` (INT8, T=4),
                                          ``"spquant"`` (seed 002, T=4) or ``"multilevel"``
                                          (seed 004, T=1: one timestep, nothing to wait for)
    ``split``        ``None``             ``"train"`` (train and tune here) or ``"test"``;
                                          ``None``: ``"train"``, or the split of ``traces``
    ``alpha``        ``0.3``              weight of the savings in the reward
    ``n_bins``       ``10``               B, number of confidence bins
    ``cost``         ``"total_ops"``      what savings are measured in (:mod:`sparq_gym.envs.costs`)
    ``obs_type``     ``"multidiscrete"``  ``"multidiscrete"``, ``"discrete"`` or ``"box"``
    ``trace_dir``    ``None``             load depth-time traces from this directory
    ``traces``       ``None``             use this in-memory ``TimeTraceSet``
    ``render_mode``  ``None``             ``None``, ``"ansi"`` or ``"rgb_array"`` (the (head,
                                          timestep) grid with the path taken)
    ``invalid_action`` ``"exit"``         a masked action: ``"exit"`` (taken as EXIT) or
                                          ``"raise"`` (``InvalidActionError``)
    ================ ==================== ========================================================

    ## Example
    >>> from sparq_gym.traces.timeset import make_synthetic_time_traces
    >>> env = SPARQDepthTimeEnv(traces=make_synthetic_time_traces(100, seed=0))
    >>> obs, info = env.reset(seed=0, options={"sample_index": 7})
    >>> obs.tolist(), info["action_mask"].tolist()
    ([0, 0, 6], [True, True, True])
    >>> obs, reward, terminated, truncated, info = env.step(DepthTimeAction.WAIT)
    >>> obs.tolist(), reward, terminated
    ([0, 1, 5], 0.0, False)
    >>> obs, reward, terminated, truncated, info = env.step(DepthTimeAction.EXIT)
    >>> terminated, info["exit"], info["timesteps"], info["correct"]
    (True, 0, 2, True)
    >>> round(info["savings"], 4), round(reward, 4)
    (0.825, 1.2475)

    ## Version History
    * v0: Initial version: decision points (head, timestep), actions CONTINUE / EXIT /
      WAIT with masks, path cost of blocks and visited heads, v0's reward rule.
    * v0, unchanged meaning: ``network`` also takes ``"multilevel"`` and ``"spquant"`` (their
      ``<network>_time`` trace sets; the default ``"qdsnn"`` is what it was).
    * v0, unchanged meaning (same transitions and info values for the same seeds): steps
      through v0's step function and table layout (:func:`~sparq_gym.envs.core.exit_step`),
      and the info of an episode's last step is a ``dict`` built when first read.
    * v0, same rules: the AlexNet ``network="spquant"`` traces (``spquant_time``) are a new
      fine-tuning of seed 002's network, so returns on that one trace set differ from before;
      every other trace set, and the default, is what it was.
    * v0, valid actions unchanged: a masked action is taken as EXIT with
      ``info["invalid_action"] = True`` (it raised before; ``invalid_action="raise"`` keeps
      that), and every step's info has ``invalid_action``.
    * v0, unchanged meaning: ``render_mode="rgb_array"`` draws the (head, timestep) grid.
    """

    metadata: dict[str, Any] = {"render_modes": RenderModes(["ansi", "rgb_array"]), "render_fps": 4}

    def __init__(self, *args: Any, invalid_action: str = INVALID_ACTION_RULES[0], **kwargs: Any) -> None:
        """Build the environment; see the class docstring for every argument."""
        self.invalid_action = check_invalid_action(invalid_action)
        super().__init__(*args, **kwargs)

    _prepare = staticmethod(prepare_depth_time_tables)

    def _build(self) -> None:
        """Spaces, step tables, observations and masks of every (sample, state) (``__init__``)."""
        obs_type, t = self.obs_type, self.tables
        self.n_exits, self.n_timesteps = t.n_exits, t.n_timesteps
        self.action_space = spaces.Discrete(3)
        self.observation_space = depth_time_observation_space(
            obs_type, self.n_exits, self.n_timesteps, self.n_bins
        )
        self._steps = depth_time_step_tables(t)
        self._row_valid = self._steps.valid[: self._steps.pending].tobytes()  # per row 3 p + a: 1 or 0
        self._n_states = t.n_states
        flat = t.observation.reshape(t.n_samples * self._n_states, *t.observation.shape[2:])
        self._obs_list: list[Any] = flat.tolist() if obs_type == "discrete" else list(flat)
        self._copy_obs = obs_type != "discrete"
        self._masks = [row.copy() for row in t.valid]
        self._position_masks = self._masks * t.n_samples  # the mask of every position p = i S + s
        self._position = -1  # sample * S + state; -1 when no episode runs
        self._mask_position = -1  # where action_masks() reads: the current or the last decision point

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode at (head 0, 1 timestep) on a random image, or ``options["sample_index"]``."""
        if seed is None and options is None:  # a training loop's plain reset(): the next draw
            sample = next(self._draws, -1)
            if sample < 0:
                sample = self._start_sample(None, self.tables.n_samples, ValueError)
        else:
            seed = check_reset_arguments(seed, options)
            if seed is not None:
                super().reset(seed=seed)
                self._draws = iter(())
            sample = self._start_sample(options, self.tables.n_samples, ValueError)
        self._position = self._mask_position = position = sample * self._n_states
        self._last_info = {}
        obs = self._obs_list[position]
        info = {"sample_index": sample, "action_mask": self._masks[0].copy()}
        return obs.copy() if self._copy_obs else obs, info

    def _render_grid(self) -> np.ndarray:
        from sparq_gym.envs.render import render_grid

        return render_grid(_grid_view(self))

    def _obs(self, position: int) -> Any:
        obs = self._obs_list[position]
        return obs.copy() if self._copy_obs else obs

    def action_masks(self) -> np.ndarray:
        """Valid actions (CONTINUE, EXIT, WAIT) at the current decision point.

        After the episode ends: the mask of the decision point where it ended (as
        ``info["action_mask"]``); before the first ``reset``: all False.
        """
        if self._mask_position < 0:
            return np.zeros(3, dtype=np.bool_)
        return self._masks[self._mask_position % self._n_states].copy()  # type: ignore[no-any-return]

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply CONTINUE (0), EXIT (1) or WAIT (2) at the current decision point."""
        act = action if type(action) is int and 0 <= action <= 2 else _coerce_action(action)
        position = self._position
        if position < 0:
            raise ResetNeeded("call reset() before step(): the episode has ended or never started")
        invalid = not self._row_valid[3 * position + act]
        if invalid and self.invalid_action == "raise":
            state = position % self._n_states
            k, tau = int(self.tables.state_head[state]), int(self.tables.state_time[state])
            raise InvalidActionError(
                f"{DepthTimeAction(act).name} is masked at head {k}, t = {tau + 1} "
                f"(valid: {[a.name for a in DepthTimeAction if self._masks[state][a]]}); read action_masks()"
            )
        next_state, reward, terminated = exit_step(self._steps, 3 * position, act)  # masked: EXIT's row
        if not terminated:
            self._position = self._mask_position = position = next_state // 3
            info = {"action_mask": self._position_masks[position].copy(), "invalid_action": False}
            obs = self._obs_list[position]
            return obs.copy() if self._copy_obs else obs, 0.0, False, False, info
        self._position = -1
        # Built when first read (a fresh dict each episode: the caller may keep or modify it).
        self._last_info = info = LazyInfo(
            final_info, self.tables, end_cell(self._steps, 3 * position, act), invalid
        )
        return self._obs(position), reward, True, False, info

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a one-line description of where the episode stands; ``"rgb_array"``: the
        (head, timestep) grid with the path taken (:func:`sparq_gym.envs.render.render_grid`)."""
        if self.render_mode is None:
            warn_no_render_mode(self)
            return None
        if self.render_mode == "rgb_array":
            return self._render_grid()
        if self._position < 0:
            i = self._last_info
            if not i:
                return "no episode yet: call reset()"
            return (
                f"sample {i['sample_index']}: exited at head {i['exit']} after {i['timesteps']} timesteps "
                f"predicting {i['prediction']} (label {i['label']}), savings {i['savings']:.3f}"
            )
        t = self.tables
        sample, state = divmod(self._position, self._n_states)
        k, tau = int(t.state_head[state]), int(t.state_time[state])
        return f"sample {sample}: head {k}, t = {tau + 1}, confidence {t.confidence[sample, k, tau]:.3f}"


def _coerce_action(action: Any) -> int:
    """0, 1 or 2 from an int or a numpy integer (0-d array included); anything else raises."""
    if type(action) in (int, DepthTimeAction) and action in _ACTIONS:
        return int(action)
    if isinstance(action, (np.integer, np.ndarray)):
        value = np.asarray(action)
        if value.ndim == 0 and np.issubdtype(value.dtype, np.integer) and int(value) in _ACTIONS:
            return int(value)
    raise InvalidActionError(
        f"action must be 0 (CONTINUE), 1 (EXIT) or 2 (WAIT) from Discrete(3), got {action!r}"
    )


def _grid_view(env: SPARQDepthTimeEnv) -> Any:
    """Where ``env``'s episode stands, for :func:`~sparq_gym.envs.render.render_grid`."""
    from sparq_gym.envs.render import GridView, grid_path, sample_image, with_reward

    position = env._position if env._position >= 0 else env._mask_position
    if position < 0:
        return GridView(env.tables, None, 0, (), None)
    sample, state = divmod(position, env._n_states)
    states = enumerate_states(env.n_exits, env.n_timesteps)
    last = with_reward(dict(env._last_info), env.alpha) if env._position < 0 and env._last_info else None
    name = env.spec.id if env.spec is not None else type(env).__name__
    names = env.traces.meta.get("exit_names") or ()
    image = sample_image(env.traces, sample, env.__dict__.setdefault("_image_cache", {}))
    return GridView(env.tables, sample, state, grid_path(states[state]), last, title=f"{name} {env.split}",
                    head_names=tuple(names), cost=env.cost, image=image)


def check_invalid_action(rule: Any) -> str:
    """``rule`` when it is one of :data:`INVALID_ACTION_RULES`, else a ``SettingsError`` naming them."""
    if not isinstance(rule, str) or rule not in INVALID_ACTION_RULES:
        raise SettingsError(f"invalid_action must be one of {list(INVALID_ACTION_RULES)}, got {rule!r}")
    return rule


def final_info(tables: DepthTimeTables, cell: int, invalid: bool = False) -> dict[str, Any]:
    """Info of an episode that ended by EXIT at position ``cell = sample * S + state`` (fresh dict);
    ``invalid``: the action that ended it was masked (taken as EXIT)."""
    sample, state = divmod(int(cell), tables.n_states)
    k, tau = int(tables.state_head[state]), int(tables.state_time[state])
    return {
        "sample_index": sample,
        "label": int(tables.labels[sample]),
        "exit": k,
        "timesteps": tau + 1,
        "prediction": int(tables.predictions[sample, k, tau]),
        "correct": bool(tables.correct[sample, k, tau]),
        "confidence": float(tables.confidence[sample, k, tau]),
        "cost": float(tables.cost[sample, state]),
        "savings": float(tables.savings[sample, state]),
        "counters": dict(zip(tables.counter_names, tables.counts[sample, state].tolist())),
        "action_mask": tables.valid[state].copy(),
        "invalid_action": bool(invalid),
    }
