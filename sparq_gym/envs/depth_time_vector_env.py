"""A native vector environment for the depth x time family: many episodes stepped with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from sparq_gym.envs.common import SlotDraws, TraceReplayVectorEnv
from sparq_gym.envs.depth_time_core import depth_time_step, depth_time_step_tables
from sparq_gym.envs.depth_time_env import depth_time_observation_space, prepare_depth_time_tables
from sparq_gym.envs.exit_env import InvalidActionError

__all__ = ["SPARQDepthTimeVectorEnv"]


class SPARQDepthTimeVectorEnv(TraceReplayVectorEnv):
    """``num_envs`` depth x time episodes stepped together with array operations.

    Same arguments, spaces, rewards and info keys as
    :class:`~sparq_gym.envs.depth_time_env.SPARQDepthTimeEnv` (plus ``num_envs`` and
    ``autoreset_mode``) and the same transition function
    (:func:`~sparq_gym.envs.depth_time_core.depth_time_step`) on arrays. Slot i seeded
    with ``seed + i`` draws the same samples as a single environment seeded with
    ``seed + i`` (per-slot generators, sample draws in the same blocks), so it gives
    the same transitions as ``SyncVectorEnv`` in both ``NEXT_STEP`` and ``SAME_STEP``
    autoreset modes, and the same info: arrays with a ``_key`` mask per key.
    ``action_masks()`` returns a (num_envs, 3) bool array; an action masked in any
    slot raises ``InvalidActionError`` (slots about to be reset ignore their action).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    _prepare = staticmethod(prepare_depth_time_tables)

    def _build(self) -> None:
        """Single spaces, step tables, observations and slot state (``__init__``)."""
        t = self.tables
        self._steps = depth_time_step_tables(t)
        self._n_states = t.n_states
        self._observations = t.observation.reshape(t.n_samples * t.n_states, *t.observation.shape[2:])
        self.n_exits, self.n_timesteps = t.n_exits, t.n_timesteps
        self.single_action_space = spaces.Discrete(3)
        self.single_observation_space = depth_time_observation_space(
            self.settings.obs_type, t.n_exits, t.n_timesteps, self.settings.n_bins
        )
        n = self.num_envs
        self._slot_draws = SlotDraws(n, t.n_samples, 1, np.int64)  # sample indices, per slot
        self._draw = self._slot_draws.take
        self._position = np.zeros(n, dtype=np.int64)  # sample * S + state, per slot

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every slot; slot i is seeded with ``seed + i`` (or ``seed[i]``).

        ``options={"sample_index": i}`` (one integer, or one per slot) starts the slots on given samples.
        """
        n = self.num_envs
        self._slot_draws.reseed(seed, ValueError)
        if options and "sample_index" in options:
            index = np.broadcast_to(np.asarray(options["sample_index"]), (n,))
            if (
                not np.issubdtype(index.dtype, np.integer)
                or index.min() < 0
                or index.max() >= self.tables.n_samples
            ):
                raise ValueError(f"options['sample_index'] must be integers in [0, {self.tables.n_samples})")
            samples = index.astype(np.int64)
        else:
            samples = self._draw(np.arange(n))
        self._position = samples * self._n_states
        self._autoreset[:] = False
        self._started = True
        all_slots = np.ones(n, dtype=np.bool_)
        info = {
            "sample_index": samples.copy(),
            "_sample_index": all_slots,
            "action_mask": self.action_masks(),
            "_action_mask": all_slots.copy(),
        }
        return self._observations.take(self._position, axis=0), info

    def action_masks(self) -> NDArray[np.bool_]:
        """Valid actions (CONTINUE, EXIT, WAIT) of every slot, (num_envs, 3)."""
        return self.tables.valid[self._position % self._n_states]

    def step(
        self, actions: Any
    ) -> tuple[Any, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Apply one action per slot (0 = CONTINUE, 1 = EXIT, 2 = WAIT)."""
        act = self._checked_actions(actions)
        resetting = self._autoreset  # NEXT_STEP: these slots ignore their action (always False in SAME_STEP)
        masked = ~self._steps.valid[(self._position % self._n_states) * 3 + act] & ~resetting
        if masked.any():
            slot = int(np.flatnonzero(masked)[0])
            raise InvalidActionError(
                f"slot {slot}: action {int(act[slot])} is masked there; read action_masks()"
            )
        position, reward, cell = depth_time_step(self._steps, self._position, act)
        ended = cell != self._steps.no_end
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            return self._step_next(position, reward, cell, ended)
        return self._step_same(position, reward, cell, ended)

    def _checked_actions(self, actions: Any) -> NDArray[np.int64]:
        """``actions`` as int64, once reset was called and each is 0, 1 or 2 (masks aside)."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        act = np.asarray(actions)
        if act.shape != (self.num_envs,) or act.dtype.kind not in "iu" or (act.astype(np.uint64) > 2).any():
            raise InvalidActionError(
                f"actions must be {self.num_envs} integers in {{0, 1, 2}}, got {actions!r}"
            )
        return act.astype(np.int64)

    def _step_next(
        self, position: Any, reward: Any, cell: Any, ended: Any
    ) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """NEXT_STEP: slots that ended last step start a new episode (reward 0, reset info)."""
        resetting = self._autoreset.copy()
        ended &= ~resetting
        reward[resetting] = 0.0
        slots = np.flatnonzero(resetting)
        samples = self._draw(slots) if slots.size else slots
        position[slots] = samples * self._n_states
        self._position, self._autoreset = position, ended.copy()
        info = self._final_info(cell, ended) if ended.any() else {}
        if slots.size:
            sample_index = info.get("sample_index", np.zeros(self.num_envs, dtype=np.int64))
            sample_index[slots] = samples
            info["sample_index"], info["_sample_index"] = sample_index, ended | resetting
        info["action_mask"], info["_action_mask"] = (
            self.action_masks(),
            np.ones(self.num_envs, dtype=np.bool_),
        )
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observations.take(position, axis=0), reward, ended, truncated, info

    def _step_same(
        self, position: Any, reward: Any, cell: Any, ended: Any
    ) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """SAME_STEP: slots that end are reset at once; final obs and info go under ``final_*``."""
        info: dict[str, Any] = {}
        if ended.any():
            slots = np.flatnonzero(ended)
            info["final_obs"], info["_final_obs"] = self._observations.take(position, axis=0), ended.copy()
            final = self._final_info(cell, ended)
            final["action_mask"], final["_action_mask"] = (
                self.action_masks_at(position) & ended[:, None],
                ended.copy(),
            )
            info["final_info"], info["_final_info"] = final, ended.copy()
            samples = self._draw(slots)
            position[slots] = samples * self._n_states
            sample_index = np.zeros(self.num_envs, dtype=np.int64)
            sample_index[slots] = samples
            info["sample_index"], info["_sample_index"] = sample_index, ended.copy()
        self._position = position
        info["action_mask"], info["_action_mask"] = (
            self.action_masks(),
            np.ones(self.num_envs, dtype=np.bool_),
        )
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observations.take(position, axis=0), reward, ended, truncated, info

    def action_masks_at(self, position: NDArray[np.int64]) -> NDArray[np.bool_]:
        """The action masks of the decision points at ``position`` (sample * S + state)."""
        return self.tables.valid[position % self._n_states]

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
