"""A native vector environment for the depth x time family: many episodes stepped with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from sparq_gym.envs.common import TraceReplayVectorEnv
from sparq_gym.envs.core import end_cell
from sparq_gym.envs.depth_time_core import depth_time_step_tables
from sparq_gym.envs.depth_time_env import (
    INVALID_ACTION_RULES,
    check_invalid_action,
    depth_time_observation_space,
    prepare_depth_time_tables,
)
from sparq_gym.envs.exit_env import InvalidActionError
from sparq_gym.envs.info import LazyInfo
from sparq_gym.envs.settings import check_reset_arguments

__all__ = ["SPARQDepthTimeVectorEnv"]


class SPARQDepthTimeVectorEnv(TraceReplayVectorEnv):
    """``num_envs`` depth x time episodes stepped together with array operations.

    Same arguments, spaces, rewards and info keys as
    :class:`~sparq_gym.envs.depth_time_env.SPARQDepthTimeEnv` (plus ``num_envs`` and
    ``autoreset_mode``) and the same transition function
    (:func:`~sparq_gym.envs.core.exit_step`, the v0 vector env's, on the tables of
    :func:`~sparq_gym.envs.depth_time_core.depth_time_step_tables`). Slot i seeded
    with ``seed + i`` draws the same samples as a single environment seeded with
    ``seed + i`` (per-slot generators, sample draws in the same blocks), so it gives
    the same transitions as ``SyncVectorEnv`` in both ``NEXT_STEP`` and ``SAME_STEP``
    autoreset modes, and the same info: arrays with a ``_key`` mask per key.
    ``action_masks()`` returns a (num_envs, 3) bool array; a masked action is taken as
    EXIT with ``info["invalid_action"]`` True in its slot, or, with
    ``invalid_action="raise"``, raises ``InvalidActionError`` (slots about to be reset
    ignore their action).
    Under ``NEXT_STEP`` every step's info (it always holds the action masks) is a
    :class:`~sparq_gym.envs.info.LazyInfo`, built when first read.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    _prepare = staticmethod(prepare_depth_time_tables)

    def __init__(self, *args: Any, invalid_action: str = INVALID_ACTION_RULES[0], **kwargs: Any) -> None:
        """Build the slots; ``invalid_action`` as the single environment's."""
        self.invalid_action = check_invalid_action(invalid_action)
        super().__init__(*args, **kwargs)

    def _build(self) -> None:
        """Single spaces, step tables, observations and slot state (``__init__``)."""
        t = self.tables
        self._n_states = t.n_states
        per_position = t.observation.reshape(t.n_samples * t.n_states, *t.observation.shape[2:])
        # One observation per state 3 p + a (each listed three times), so a step gathers by state.
        self._setup_slots(depth_time_step_tables(t), per_position.repeat(3, axis=0), 3 * t.n_states)
        self.n_exits, self.n_timesteps = t.n_exits, t.n_timesteps
        self.single_action_space = spaces.Discrete(3)
        self.single_observation_space = depth_time_observation_space(
            self.settings.obs_type, t.n_exits, t.n_timesteps, self.settings.n_bins
        )
        self._mask_state = self._state  # where action_masks() reads: a slot's state, or where it ended
        self._mask_step: tuple[Any, ...] | None = None  # the last step's, until action_masks() reads it

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every slot; slot i is seeded with ``seed + i`` (or ``seed[i]``).

        ``options={"sample_index": i}`` (one integer, or one per slot) starts the slots on given samples.
        """
        samples = self._reset_slots(check_reset_arguments(seed, options, seed_list=True), options)
        self._mask_state, self._mask_step = self._state, None
        all_slots = np.ones(self.num_envs, dtype=np.bool_)
        info = {
            "sample_index": samples.copy(),
            "_sample_index": all_slots,
            "action_mask": self.action_masks(),
            "_action_mask": all_slots.copy(),
        }
        return self._observe(self._state), info

    def action_masks(self) -> NDArray[np.bool_]:
        """Valid actions (CONTINUE, EXIT, WAIT) of every slot, (num_envs, 3); a slot whose
        episode has ended (``NEXT_STEP``) has the mask of where it ended."""
        if self._mask_step is not None:  # computed when first asked for, not at every step
            state, next_state, terminated, same_step = self._mask_step
            self._mask_state = next_state if same_step else np.where(terminated, state, next_state)
            self._mask_step = None
        return self.action_masks_at(self._mask_state)

    def action_masks_at(self, state: NDArray[np.int64]) -> NDArray[np.bool_]:
        """The action masks of the decision points at ``state`` (3 (sample * S + state))."""
        return self.tables.valid[(state // 3) % self._n_states]

    def step(
        self, actions: Any
    ) -> tuple[Any, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Apply one action per slot (0 = CONTINUE, 1 = EXIT, 2 = WAIT)."""
        act = self._checked_actions(actions)
        # Pending slots (NEXT_STEP: about to start a new episode) ignore their action.
        if self.invalid_action == "raise":
            invalid = ~self._steps.valid.take(self._state + act)
            if invalid.any():
                slot = int(np.flatnonzero(invalid)[0])
                raise InvalidActionError(
                    f"slot {slot}: action {int(act[slot])} is masked there; read action_masks()"
                )
        state, next_state, obs, reward, terminated, ended, final_obs = self._advance(act)
        # An ended slot's mask is the one where it ended (its state: EXIT stays), as in SyncVectorEnv.
        self._mask_step = (state, next_state, terminated, final_obs is not None)
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            # Every step's info has the action masks and the invalid actions: built when first read.
            info: dict[str, Any] = LazyInfo(
                self._next_step_info, state, next_state, act.copy(), terminated.copy(), self._resetting,
            )
            self._resetting = bool(ended.size)
        else:
            invalid = ~self._steps.valid.take(state + act)
            info = self._same_step_info(state, next_state, act, terminated, ended, final_obs, invalid)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return obs, reward, terminated, truncated, info

    def _next_step_info(
        self,
        state: NDArray[np.int64],
        next_state: NDArray[np.int64],
        act: NDArray[np.int64],
        terminated: NDArray[np.bool_],
        resetting: bool,
    ) -> dict[str, Any]:
        """NEXT_STEP info: the final info of the slots that ended, the reset ``sample_index`` of
        those that were pending, and every slot's action mask, merged as SyncVectorEnv merges them."""
        info: dict[str, Any] = {}
        if terminated.any():
            info = self._final_info(end_cell(self._steps, state, act), terminated)
        if resetting:
            info = self._add_reset_samples(info, state, next_state, terminated)
        info["action_mask"] = self.action_masks_at(np.where(terminated, state, next_state))
        info["_action_mask"] = np.ones(self.num_envs, dtype=np.bool_)
        stepped = state < self._steps.pending  # a pending slot's info is its reset's: no invalid_action
        invalid = ~self._steps.valid.take(state + act)
        info["invalid_action"], info["_invalid_action"] = invalid & stepped, stepped
        return info

    def _same_step_info(
        self,
        state: NDArray[np.int64],
        next_state: NDArray[np.int64],
        act: NDArray[np.int64],
        terminated: NDArray[np.bool_],
        ended: NDArray[np.int64],
        final_obs: Any,
        invalid: NDArray[np.bool_],
    ) -> dict[str, Any]:
        """SAME_STEP info: final observations and info of the slots that ended, the new episodes'
        ``sample_index``, and every slot's action mask."""
        info: dict[str, Any] = {}
        if ended.size:
            info["final_obs"], info["_final_obs"] = final_obs, terminated.copy()
            final = self._final_info(end_cell(self._steps, state, act), terminated)
            final["action_mask"], final["_action_mask"] = (
                self.action_masks_at(state) & terminated[:, None],
                terminated.copy(),
            )
            final["invalid_action"], final["_invalid_action"] = invalid & terminated, terminated.copy()
            info["final_info"], info["_final_info"] = final, terminated.copy()
            sample_index = self._start_samples(next_state, ended)
            info["sample_index"], info["_sample_index"] = sample_index, terminated.copy()
        info["action_mask"] = self.action_masks()
        info["_action_mask"] = np.ones(self.num_envs, dtype=np.bool_)
        # an ended slot's top-level info is its reset's: no invalid_action there
        info["invalid_action"], info["_invalid_action"] = invalid & ~terminated, ~terminated
        return info

    def _checked_actions(self, actions: Any) -> NDArray[np.int64]:
        """``actions`` as int64, once reset was called and each is 0, 1 or 2 (masks aside)."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        act = np.asarray(actions)
        wrong = act.shape != (self.num_envs,) or act.dtype.kind not in "iu"
        if not wrong:
            # int64 read as uint64 (a view: no copy): a negative action wraps to a huge value
            unsigned = act.view(np.uint64) if act.dtype == np.int64 else act.astype(np.uint64)
            wrong = bool(unsigned.max(initial=0) > 2)
        if wrong:
            raise InvalidActionError(
                f"actions must be {self.num_envs} integers in {{0, 1, 2}}, got {actions!r}"
            )
        return act if act.dtype == np.int64 else act.astype(np.int64)

    def _final_info(self, cell: NDArray[np.int64], ended: NDArray[np.bool_]) -> dict[str, Any]:
        """Final info of the slots that ended (zeros elsewhere), merged as ``SyncVectorEnv`` merges it."""
        t = self.tables
        sample, state = np.divmod(np.where(ended, cell, 0), self._n_states)
        head, tau = t.state_head[state], t.state_time[state]
        values: dict[str, Any] = {
            "sample_index": sample,
            "label": t.labels[sample],
            "exit": head,
            "timesteps": tau + 1,
            "prediction": t.predictions[sample, head, tau],
            "correct": t.correct[sample, head, tau],
            "confidence": t.confidence[sample, head, tau],
            "cost": t.cost[sample, state],
            "savings": t.savings[sample, state],
        }
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key], info[f"_{key}"] = np.where(ended, value, np.zeros((), value.dtype)), ended.copy()
        counts = np.where(ended[:, None], t.counts[sample, state], 0)
        counters: dict[str, Any] = {}
        for j, name in enumerate(t.counter_names):
            counters[name], counters[f"_{name}"] = counts[:, j].copy(), ended.copy()
        info["counters"], info["_counters"] = counters, ended.copy()
        return info
