"""A native vector environment for the depth x time family: many episodes stepped with numpy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from sparq_gym.envs.core import SAMPLE_BLOCK, draw_sample_block
from sparq_gym.envs.depth_time_core import depth_time_step, depth_time_step_tables
from sparq_gym.envs.depth_time_env import depth_time_observation_space, prepare_depth_time_tables
from sparq_gym.envs.exit_env import InvalidActionError
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.traces.timeset import TimeTraceSet

__all__ = ["SPARQDepthTimeVectorEnv"]


class SPARQDepthTimeVectorEnv(VectorEnv[Any, Any, Any]):
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

    def __init__(
        self,
        num_envs: int = 1,
        backbone: str | None = None,
        *,
        split: str | None = None,
        trace_dir: str | os.PathLike[str] | None = None,
        traces: TimeTraceSet | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **settings: Any,
    ) -> None:
        """Build ``num_envs`` slots over the same traces; ``settings``: :class:`ExitSettings`'s keywords."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode}")
        if render_mode is not None:
            raise ValueError("the vector environment does not render; use render_mode=None")
        unknown = sorted(set(settings) - set(ExitSettings.__dataclass_fields__))
        if unknown:
            raise TypeError(
                f"unexpected keyword arguments {unknown}; the settings are "
                f"{list(ExitSettings.__dataclass_fields__)}"
            )
        self.settings = ExitSettings(**settings)
        self.traces, self.tables = prepare_depth_time_tables(
            backbone, self.settings, split=split, trace_dir=trace_dir, traces=traces
        )
        t = self.tables
        self._steps = depth_time_step_tables(t)
        self._n_states = t.n_states
        self._observations = t.observation.reshape(t.n_samples * t.n_states, *t.observation.shape[2:])
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.n_exits, self.n_timesteps = t.n_exits, t.n_timesteps
        self.single_action_space = spaces.Discrete(3)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = depth_time_observation_space(
            self.settings.obs_type, t.n_exits, t.n_timesteps, self.settings.n_bins
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        n = self.num_envs
        self._rngs: list[np.random.Generator] = []
        self._draws = np.full(n * (SAMPLE_BLOCK + 1), -1, dtype=np.int64)
        self._cursor = np.arange(n, dtype=np.int64) * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK
        self._position = np.zeros(n, dtype=np.int64)  # sample * S + state, per slot
        self._autoreset = np.zeros(n, dtype=np.bool_)
        self._started = False

    def _draw(self, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """Next sample index of each slot in ``slots``, from that slot's generator, in blocks."""
        samples = self._draws.take(self._cursor[slots])
        for slot in slots[samples < 0].tolist():
            row = slot * (SAMPLE_BLOCK + 1)
            self._draws[row : row + SAMPLE_BLOCK] = draw_sample_block(self._rngs[slot], self.tables.n_samples)
            self._cursor[slot] = row
        samples = self._draws.take(self._cursor[slots])
        self._cursor[slots] += 1
        return samples

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every slot; slot i is seeded with ``seed + i`` (or ``seed[i]``).

        ``options={"sample_index": i}`` (one integer, or one per slot) starts the slots on given samples.
        """
        n = self.num_envs
        if seed is None:
            seeds: list[int | None] = [None] * n
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise ValueError(f"seed list must have num_envs={n} entries, got {len(seeds)}")
        if not self._rngs:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        else:
            for i, s in enumerate(seeds):
                if s is not None:
                    self._rngs[i] = seeding.np_random(s)[0]
                    self._cursor[i] = i * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK
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
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        act = np.asarray(actions)
        if act.shape != (self.num_envs,) or act.dtype.kind not in "iu" or (act.astype(np.uint64) > 2).any():
            raise InvalidActionError(
                f"actions must be {self.num_envs} integers in {{0, 1, 2}}, got {actions!r}"
            )
        act = act.astype(np.int64)
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
