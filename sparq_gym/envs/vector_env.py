"""A native vector environment: thousands of SPARQ episodes stepped with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from sparq_gym.envs.common import TraceReplayVectorEnv
from sparq_gym.envs.core import end_cell, step_tables
from sparq_gym.envs.exit_env import InvalidActionError, make_observation_space, prepare_exit_tables
from sparq_gym.envs.info import FinalInfoTable, LazyInfo
from sparq_gym.envs.settings import check_reset_arguments

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
    gathers from per-transition tables: next state, reward, termination), one
    observation gather, and one draw per slot whose episode ended, from draws made
    ahead in blocks (:class:`~sparq_gym.envs.draws.SlotDraws`). Under ``NEXT_STEP`` a
    slot that ended waits in a *pending* state whose transition is its reset, so
    the reset step is the same gathers as any other step, not a masked patch-up;
    the (sample, exit) cell that ended an episode is only looked up when the info
    is read. ``sparq bench-env`` measures it against Gymnasium's CartPole vector env.
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    _prepare = staticmethod(prepare_exit_tables)

    def _build(self) -> None:
        """Single spaces, step tables, observations, final-info table and slot state (``__init__``)."""
        t = self.tables
        n_early = t.n_early_exits
        # One observation per state (each listed twice: states s and s + 1 share it).
        per_position = t.observation.reshape(t.n_samples * n_early, *t.observation.shape[2:])
        self._setup_slots(step_tables(t), per_position.repeat(2, axis=0), 2 * n_early)
        self._final_info = FinalInfoTable(t)
        self.n_exits = self.traces.n_exits
        self.single_action_space = make_action_space()
        self.single_observation_space = make_observation_space(self.obs_type, self.n_exits - 1, self.n_bins)

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
        samples = self._reset_slots(check_reset_arguments(seed, options, seed_list=True), options)
        info = {"sample_index": samples, "_sample_index": np.ones(self.num_envs, dtype=np.bool_)}
        return self._observe(self._state), info

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
        state, next_state, obs, reward, terminated, ended, final_obs = self._advance(act)
        info: dict[str, Any] = {}
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            if self._resetting:
                # The reset info of the slots that were pending merged with the final info of
                # those that ended, as SyncVectorEnv merges them.
                info = LazyInfo(self._reset_merged_info, state, next_state, act.copy(), terminated.copy())
            elif ended.size:
                info = LazyInfo(self._ended_info, state, act.copy(), terminated.copy())
            self._resetting = bool(ended.size)
        elif ended.size:
            sample_index = self._start_samples(next_state, ended)
            info = {
                "final_obs": final_obs,
                "_final_obs": terminated.copy(),
                "final_info": LazyInfo(self._ended_info, state, act.copy(), terminated.copy()),
                "_final_info": terminated.copy(),
                "sample_index": sample_index,
                "_sample_index": terminated.copy(),
            }
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return obs, reward, terminated, truncated, info

    def _ended_info(
        self, state: NDArray[np.int64], act: NDArray[np.int64], terminated: NDArray[np.bool_]
    ) -> dict[str, Any]:
        """The final info of the slots whose episode ended (``terminated``) in this step."""
        return self._final_info.info(end_cell(self._steps, state, act), terminated)

    def _reset_merged_info(
        self,
        state: NDArray[np.int64],
        next_state: NDArray[np.int64],
        act: NDArray[np.int64],
        terminated: NDArray[np.bool_],
    ) -> dict[str, Any]:
        """NEXT_STEP info of a step that reset slots: the final info of the slots that ended,
        plus the reset ``sample_index`` of the slots that were pending, with one mask over both."""
        info = self._ended_info(state, act, terminated.copy()) if terminated.any() else {}
        return self._add_reset_samples(info, state, next_state, terminated)


def make_action_space() -> Any:
    """``Discrete(2)``: 0 = CONTINUE, 1 = EXIT."""
    from gymnasium import spaces

    return spaces.Discrete(2)
