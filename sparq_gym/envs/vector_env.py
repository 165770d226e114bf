"""A native vector environment: thousands of SPARQ episodes stepped with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from sparq_gym.envs.common import SlotDraws, TraceReplayVectorEnv
from sparq_gym.envs.core import exit_step, step_tables
from sparq_gym.envs.exit_env import InvalidActionError, make_observation_space, prepare_exit_tables
from sparq_gym.envs.info import FinalInfoTable, LazyInfo
from sparq_gym.envs.settings import SettingsError, check_reset_arguments

__all__ = ["SPARQExitVectorEnv"]


class SPARQExitVectorEnv(TraceReplayVectorEnv):
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
    as ``SyncVectorEnv`` merges the single environments' infos. A step whose
    info has entries returns a :class:`~sparq_gym.envs.info.LazyInfo`: a
    ``dict`` built the first time it is read, so a loop that never reads the
    info does not pay for it.

    Speed: a step is :func:`~sparq_gym.envs.core.exit_step` on arrays (three
    gathers from per-transition tables), one observation gather, and per-slot
    sample draws in blocks; ``sparq bench-env`` measures it against
    Gymnasium's CartPole vector env.
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    _prepare = staticmethod(prepare_exit_tables)

    def _build(self) -> None:
        """Single spaces, step tables, observations, final-info table and slot state (``__init__``)."""
        t = self.tables
        self._steps = step_tables(t)
        self._n_early = t.n_early_exits
        self._stride = 2 * self._n_early  # states per sample
        # One observation per state (each listed twice: states s and s + 1 share it).
        per_position = t.observation.reshape(t.n_samples * self._n_early, *t.observation.shape[2:])
        self._observations = per_position.repeat(2, axis=0)
        self._final_info = FinalInfoTable(t)
        self.n_exits = self.traces.n_exits
        self.single_action_space = make_action_space()
        self.single_observation_space = make_observation_space(self.obs_type, self.n_exits - 1, self.n_bins)

        n = self.num_envs
        # Per slot: a generator and a block of drawn start states (int32: half the memory
        # traffic); _take_starts(slots) consumes the next start of each slot in ``slots``.
        self._slot_draws = SlotDraws(n, t.n_samples, self._stride, np.int32)
        self._take_starts = self._slot_draws.take
        self._state = np.zeros(n, dtype=np.int64)  # 2 (sample * (E-1) + early exit), per slot

    # ------------------------------------------------------------------
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
        seed = check_reset_arguments(seed, options, seed_list=True)
        n = self.num_envs
        self._slot_draws.reseed(seed, SettingsError)
        if options and "sample_index" in options:
            samples = self._sample_option(options["sample_index"])
        else:
            samples = self._take_starts(np.arange(n)).astype(np.int64) // self._stride
        self._state = samples * self._stride
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._started = True
        info = {"sample_index": samples, "_sample_index": np.ones(n, dtype=np.bool_)}
        return self._observations.take(self._state, axis=0), info

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

    def step(
        self, actions: Any
    ) -> tuple[Any, NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Apply one action per slot (0 = CONTINUE, 1 = EXIT)."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        act = np.asarray(actions)
        if act.shape != (self.num_envs,) or act.dtype.kind not in "iu":
            raise InvalidActionError(
                f"actions must be an integer array of shape ({self.num_envs},), got {act.dtype} {act.shape}"
            )
        if act.dtype != np.int64:  # uint64 mixed with int64 would become float
            if (act.astype(np.uint64) > 1).any():  # negatives wrap to huge values
                raise InvalidActionError("actions must be 0 (CONTINUE) or 1 (EXIT)")
            act = act.astype(np.int64)
        elif np.bitwise_or.reduce(act) >> 1:  # any bit above the lowest, or a sign bit
            raise InvalidActionError("actions must be 0 (CONTINUE) or 1 (EXIT)")
        rows = exit_step(self._steps, self._state, act)
        state, reward, cell = rows["next_state"], rows["reward"], rows["end_cell"]
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            return self._step_next(state, reward, cell)
        return self._step_same(state, reward, cell)

    def _step_next(
        self, state: NDArray[np.int64], reward: NDArray[np.float64], cell: NDArray[np.int64]
    ) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        resetting = self._autoreset
        slots = np.flatnonzero(resetting) if resetting.any() else None
        if slots is not None:
            # Slots whose episode ended last step start a new one: reward 0, not terminated.
            # (state, reward and cell are fields of this step's fresh transition rows.)
            starts = self._take_starts(slots)
            state[slots] = starts
            reward[slots] = 0.0
            cell[slots] = self._steps.no_end
        terminated = cell != self._steps.no_end
        # One private copy of the terminations: next step's autoreset mask and the info's mask
        # (the caller may modify the array it receives).
        ended = terminated.copy()
        info: dict[str, Any] = {}
        if slots is not None:
            # The reset info of those slots, merged as SyncVectorEnv merges it.
            info = LazyInfo(partial(self._reset_merged_info, cell, ended, slots, starts))
        elif ended.any():
            info = LazyInfo(partial(self._final_info.info, cell, ended))
        self._state = state
        self._autoreset = ended
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observations.take(state, axis=0), reward, terminated, truncated, info

    def _step_same(
        self, state: NDArray[np.int64], reward: NDArray[np.float64], cell: NDArray[np.int64]
    ) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        terminated = cell != self._steps.no_end
        info: dict[str, Any] = {}
        if terminated.any():
            final_obs = self._observations.take(state, axis=0)
            final_info = LazyInfo(partial(self._final_info.info, cell, terminated.copy()))
            slots = np.flatnonzero(terminated)
            starts = self._take_starts(slots)
            state[slots] = starts
            sample_index = np.zeros(self.num_envs, dtype=np.int64)
            sample_index[slots] = starts // self._stride
            info = {
                "final_obs": final_obs,
                "_final_obs": terminated.copy(),
                "final_info": final_info,
                "_final_info": terminated.copy(),
                "sample_index": sample_index,
                "_sample_index": terminated.copy(),
            }
        self._state = state
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return self._observations.take(state, axis=0), reward, terminated, truncated, info

    def _reset_merged_info(
        self,
        cell: NDArray[np.int64],
        ended: NDArray[np.bool_],
        reset_slots: NDArray[np.int64],
        starts: NDArray[np.int32],
    ) -> dict[str, Any]:
        """NEXT_STEP info: the final info of the slots that ended, plus the reset ``sample_index``
        of the slots that started a new episode, with one mask over both."""
        info = self._final_info.info(cell, ended) if ended.any() else {}
        sample_index = info.get("sample_index")
        if sample_index is None:
            sample_index = np.zeros(self.num_envs, dtype=np.int64)
        sample_index[reset_slots] = starts // self._stride
        mask = ended.copy()
        mask[reset_slots] = True
        info["sample_index"] = sample_index
        info["_sample_index"] = mask
        return info


def make_action_space() -> Any:
    """``Discrete(2)``: 0 = CONTINUE, 1 = EXIT."""
    from gymnasium import spaces

    return spaces.Discrete(2)
