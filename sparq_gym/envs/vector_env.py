"""A native vector environment: thousands of SPARQ episodes stepped with numpy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from sparq_gym.envs.core import (
    SAMPLE_BLOCK,
    ObsType,
    draw_sample_block,
    exit_step,
    transition_tables,
)
from sparq_gym.envs.exit_env import InvalidActionError, make_observation_space, prepare_exit_tables
from sparq_gym.traces import TraceSet

__all__ = ["SPARQExitVectorEnv"]

_INT_INFO_KEYS: tuple[str, ...] = ("sample_index", "label", "exit", "prediction", "correct")
_FLOAT_INFO_KEYS: tuple[str, ...] = ("confidence", "cost", "savings")


class SPARQExitVectorEnv(VectorEnv[Any, Any, Any]):
    """``num_envs`` SPARQ early-exit episodes stepped together with array operations.

    Same arguments, spaces, rewards and info keys as
    :class:`~sparq_gym.envs.exit_env.SPARQExitEnv` (plus ``num_envs`` and
    ``autoreset_mode``), and the same transition function
    (:func:`~sparq_gym.envs.core.exit_step`) applied to arrays. Slot i seeded
    with ``seed + i`` draws the same samples as a single environment seeded
    with ``seed + i``, so it gives the same transitions as
    ``gymnasium.vector.SyncVectorEnv`` over single environments with the same
    seeds and autoreset mode.

    Autoreset: ``NEXT_STEP`` (Gymnasium's default; the step after an episode
    ends resets that slot, returning reward 0 and the reset observation) or
    ``SAME_STEP`` (a slot whose episode ends is reset in the same step; the
    final observations are in ``info["final_obs"]``, one batched array valid
    where ``info["_final_obs"]`` is True, where ``SyncVectorEnv`` keeps an
    object array, and the final info in ``info["final_info"]``).

    Info: arrays of length ``num_envs`` with a boolean mask ``_key`` per key,
    as ``SyncVectorEnv`` merges the single environments' infos.
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int = 1,
        backbone: str | None = None,
        *,
        network: str = "qdsnn",
        split: str | None = None,
        alpha: float = 0.3,
        n_bins: int = 10,
        cost: str = "total_ops",
        obs_type: ObsType = "multidiscrete",
        trace_dir: str | os.PathLike[str] | None = None,
        traces: TraceSet | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        """Build ``num_envs`` slots over the same traces; see the class docstring."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode}")
        if render_mode is not None:
            raise ValueError("the vector environment does not render; use render_mode=None")

        self.traces, self.tables = prepare_exit_tables(
            backbone,
            network=network,
            split=split,
            alpha=alpha,
            n_bins=n_bins,
            cost=cost,
            obs_type=obs_type,
            trace_dir=trace_dir,
            traces=traces,
        )
        self._flat = transition_tables(self.tables)
        self._observation_rows = self.tables.observation.reshape(
            self.tables.n_samples * self.tables.n_early_exits, *self.tables.observation.shape[2:]
        )
        # Final-info values packed per (sample, exit) cell, one column per key
        # (integers first, then the counters), so one gather serves every key.
        t = self.tables
        n_cells = t.n_samples * self.traces.n_exits
        cells = np.arange(n_cells)
        self._int_info = np.concatenate(
            [
                np.stack(
                    [
                        cells // self.traces.n_exits,
                        t.labels.repeat(self.traces.n_exits),
                        cells % self.traces.n_exits,
                        t.predictions.reshape(-1),
                        t.correct.reshape(-1),
                    ]
                ),
                t.counts.reshape(n_cells, -1).T,
            ]
        ).T.astype(np.int64, order="C")
        self._float_info = np.stack(
            [t.confidence.reshape(-1), t.cost.reshape(-1), t.savings.reshape(-1)], axis=1
        )
        self.num_envs = int(num_envs)
        self.n_bins = int(n_bins)
        self.alpha = float(alpha)
        self.cost = cost
        self.obs_type = obs_type
        self.render_mode = render_mode
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.n_exits = self.traces.n_exits
        self.single_action_space = make_action_space()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = make_observation_space(obs_type, self.n_exits - 1, self.n_bins)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        n = self.num_envs
        self._rngs: list[np.random.Generator] = []
        self._draws = np.zeros((n, SAMPLE_BLOCK), dtype=np.int32)  # int32: half the memory traffic
        self._draw_pos = np.full(n, SAMPLE_BLOCK, dtype=np.int64)
        self._sample = np.zeros(n, dtype=np.int64)
        self._exit = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=np.bool_)
        self._started = False
        self._slots = np.arange(n)

    # ------------------------------------------------------------------
    def _draw(self, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """Next sample index of each slot in ``slots``, from that slot's generator."""
        position = self._draw_pos[slots]
        empty = slots[position >= SAMPLE_BLOCK]
        if empty.size:
            for slot in empty.tolist():
                self._draws[slot] = draw_sample_block(self._rngs[slot], self.tables.n_samples)
            self._draw_pos[empty] = 0
            position = self._draw_pos[slots]
        samples = self._draws.reshape(-1).take(slots * SAMPLE_BLOCK + position).astype(np.int64)
        self._draw_pos[slots] = position + 1
        return samples

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every slot; slot i is seeded with ``seed + i`` (or ``seed[i]`` for a list).

        ``options={"sample_index": i}`` starts every slot on sample i, and a
        list of ``num_envs`` indices starts slot j on sample ``i_j``.
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
                    self._draw_pos[i] = SAMPLE_BLOCK
        if options and "sample_index" in options:
            index = np.asarray(options["sample_index"])
            if index.shape not in ((), (n,)):
                raise ValueError(
                    f"options['sample_index'] must be one integer or {n} integers (one per slot), "
                    f"got shape {index.shape}"
                )
            index = np.broadcast_to(index, (n,))
            if not np.issubdtype(index.dtype, np.integer):
                raise ValueError(f"options['sample_index'] must be integers, got {options['sample_index']!r}")
            if index.min() < 0 or index.max() >= self.tables.n_samples:
                raise ValueError(f"options['sample_index'] must lie in [0, {self.tables.n_samples})")
            self._sample = index.astype(np.int64).copy()
        else:
            self._sample = self._draw(self._slots)
        self._exit[:] = 0
        self._autoreset[:] = False
        self._started = True
        info = {"sample_index": self._sample.copy(), "_sample_index": np.ones(n, dtype=np.bool_)}
        return self._observation(), info

    def _observation(self) -> Any:
        rows = self._sample * self.tables.n_early_exits + self._exit
        return self._observation_rows.take(rows, axis=0)

    def step(
        self, actions: Any
    ) -> tuple[Any, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Apply one action per slot (0 = CONTINUE, 1 = EXIT)."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        act = np.asarray(actions)
        if act.shape != (self.num_envs,) or not np.issubdtype(act.dtype, np.integer):
            raise InvalidActionError(
                f"actions must be an integer array of shape ({self.num_envs},), got {act.dtype} {act.shape}"
            )
        if ((act != 0) & (act != 1)).any():
            raise InvalidActionError("actions must be 0 (CONTINUE) or 1 (EXIT)")
        act = act.astype(np.int64, copy=False)  # uint64 mixed with int64 would become float

        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            return self._step_next(act)
        return self._step_same(act)

    def _transition(
        self, act: NDArray[np.integer[Any]]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64]]:
        next_exit, reward, decided = exit_step(self._flat, self._sample, self._exit, act)
        terminated = decided >= 0
        self._exit = next_exit
        return reward, terminated, decided

    def _step_next(self, act: NDArray[np.integer[Any]]) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        resetting = self._autoreset
        reward, terminated, decided = self._transition(act)
        info: dict[str, Any] = {}
        reset_slots = np.flatnonzero(resetting)
        if reset_slots.size:
            # Slots whose episode ended last step start a new one: reward 0, not terminated.
            reward[reset_slots] = 0.0
            terminated[reset_slots] = False
            self._sample[reset_slots] = self._draw(reset_slots)
            self._exit[reset_slots] = 0
        if terminated.any():
            info = self._final_info(terminated, decided)
        if reset_slots.size:
            # The reset info of those slots, merged as SyncVectorEnv merges it.
            sample_index = info.get("sample_index")
            if sample_index is None:
                sample_index = np.zeros(self.num_envs, dtype=np.int64)
            sample_index[reset_slots] = self._sample[reset_slots]
            info["sample_index"] = sample_index
            info["_sample_index"] = terminated | resetting
        self._autoreset = terminated
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observation(), reward, terminated, truncated, info

    def _step_same(self, act: NDArray[np.integer[Any]]) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        reward, terminated, decided = self._transition(act)
        info: dict[str, Any] = {}
        if terminated.any():
            final_obs = self._observation()
            final_info = self._final_info(terminated, decided)
            slots = np.flatnonzero(terminated)
            self._sample[slots] = self._draw(slots)
            self._exit[slots] = 0
            info = {
                "final_obs": final_obs,
                "_final_obs": terminated.copy(),
                "final_info": final_info,
                "_final_info": terminated.copy(),
                "sample_index": np.where(terminated, self._sample, 0),
                "_sample_index": terminated.copy(),
            }
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observation(), reward, terminated, truncated, info

    def _final_info(self, mask: NDArray[np.bool_], decided: NDArray[np.int64]) -> dict[str, Any]:
        """Info of the slots in ``mask`` whose episode ended at exit ``decided``.

        Same keys, dtypes and ``_key`` masks as ``SyncVectorEnv`` builds from
        the single environments' infos; entries outside the mask are 0.
        """
        slots = np.flatnonzero(mask)
        cell = self._sample[slots] * self.n_exits + decided[slots]  # row in the packed tables
        # Gather whole rows (contiguous) then hand out one column per key.
        ints = np.zeros((self.num_envs, self._int_info.shape[1]), dtype=np.int64)
        ints[slots] = self._int_info.take(cell, axis=0)
        floats = np.zeros((self.num_envs, self._float_info.shape[1]), dtype=np.float64)
        floats[slots] = self._float_info.take(cell, axis=0)
        ints, floats = ints.T, floats.T
        shared_mask = mask.copy()
        shared_mask.flags.writeable = False  # one read-only mask serves every key
        info: dict[str, Any] = {}
        for row, key in enumerate(_INT_INFO_KEYS):
            info[key] = ints[row].astype(np.bool_) if key == "correct" else ints[row]
            info[f"_{key}"] = shared_mask
        for row, key in enumerate(_FLOAT_INFO_KEYS):
            info[key] = floats[row]
            info[f"_{key}"] = shared_mask
        offset = len(_INT_INFO_KEYS)
        counters: dict[str, Any] = {}
        for k, name in enumerate(self.tables.counter_names):
            counters[name] = ints[offset + k]
            counters[f"_{name}"] = shared_mask
        info["counters"] = counters
        info["_counters"] = shared_mask
        return info


def make_action_space() -> Any:
    """``Discrete(2)``: 0 = CONTINUE, 1 = EXIT."""
    from gymnasium import spaces

    return spaces.Discrete(2)
