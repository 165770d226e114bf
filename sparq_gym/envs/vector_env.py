"""A native vector environment: thousands of SPARQ episodes stepped with numpy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from sparq_gym.envs.core import SAMPLE_BLOCK, draw_sample_block, exit_step, step_tables
from sparq_gym.envs.exit_env import InvalidActionError, make_observation_space, prepare_exit_tables
from sparq_gym.envs.info import FinalInfoTable, LazyInfo
from sparq_gym.envs.settings import ExitSettings, SettingsError, check_reset_arguments
from sparq_gym.traces import TraceSet

__all__ = ["SPARQExitVectorEnv"]


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

    def __init__(
        self,
        num_envs: int = 1,
        backbone: str | None = None,
        *,
        split: str | None = None,
        trace_dir: str | os.PathLike[str] | None = None,
        traces: TraceSet | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **settings: Any,
    ) -> None:
        """Build ``num_envs`` slots over the same traces; ``settings`` are :class:`ExitSettings`'s
        keywords (``alpha``, ``n_bins``, ``cost``, ``obs_type``, ``network``), as for the single env."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode}")
        if render_mode is not None:
            raise ValueError("the vector environment does not render; use render_mode=None")
        unknown = sorted(set(settings) - set(ExitSettings.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unexpected keyword arguments {unknown}; the settings are "
                            f"{list(ExitSettings.__dataclass_fields__)}")
        self.settings = ExitSettings(**settings)
        self.traces, self.tables = prepare_exit_tables(
            backbone, self.settings, split=split, trace_dir=trace_dir, traces=traces
        )
        t = self.tables
        self._steps = step_tables(t)
        self._n_early = t.n_early_exits
        self._stride = 2 * self._n_early  # states per sample
        # One observation per state (each listed twice: states s and s + 1 share it).
        per_position = t.observation.reshape(t.n_samples * self._n_early, *t.observation.shape[2:])
        self._observations = per_position.repeat(2, axis=0)
        self._final_info = FinalInfoTable(t)
        self.num_envs = int(num_envs)
        self.n_bins = self.settings.n_bins
        self.alpha = self.settings.alpha
        self.cost = self.settings.cost
        self.obs_type = self.settings.obs_type
        self.render_mode = render_mode
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.n_exits = self.traces.n_exits
        self.single_action_space = make_action_space()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = make_observation_space(self.obs_type, self.n_exits - 1, self.n_bins)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        n = self.num_envs
        self._rngs: list[np.random.Generator] = []
        # Per slot: a block of drawn start states and a spare -1 ("spent"); a cursor per slot
        # points at its next start. int32: half the memory traffic.
        self._draws = np.full(n * (SAMPLE_BLOCK + 1), -1, dtype=np.int32)
        self._cursor = np.arange(n, dtype=np.int64) * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK
        self._state = np.zeros(n, dtype=np.int64)  # 2 (sample * (E-1) + early exit), per slot
        self._autoreset = np.zeros(n, dtype=np.bool_)
        self._started = False

    # ------------------------------------------------------------------
    def _take_starts(self, slots: NDArray[np.int64]) -> NDArray[np.int32]:
        """The start state of the next episode of each slot in ``slots``, consumed from its draws.

        Slot i's draws fill row i of a table with one spare -1 after the block; a cursor per
        slot walks its row. A slot that reads the -1 draws its next block from its own
        generator, as a single environment would when it needs it, and reads again.
        """
        cursor = self._cursor[slots]
        starts = self._draws.take(cursor)
        if starts.min() < 0:
            for slot in slots[starts < 0].tolist():
                row = slot * (SAMPLE_BLOCK + 1)
                block = draw_sample_block(self._rngs[slot], self.tables.n_samples) * self._stride
                self._draws[row : row + SAMPLE_BLOCK] = block
                self._cursor[slot] = row
            cursor = self._cursor[slots]
            starts = self._draws.take(cursor)
        self._cursor[slots] = cursor + 1
        return starts

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
        if seed is None:
            seeds: list[int | None] = [None] * n
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise SettingsError(f"seed list must have num_envs={n} entries, got {len(seeds)}")
        if not self._rngs:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        else:
            for i, s in enumerate(seeds):
                if s is not None:
                    self._rngs[i] = seeding.np_random(s)[0]
                    self._cursor[i] = i * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK  # draw anew
        if options and "sample_index" in options:
            samples = self._sample_option(options["sample_index"])
        else:
            samples = self._take_starts(np.arange(n)).astype(np.int64) // self._stride
        self._state = samples * self._stride
        self._autoreset[:] = False
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
        info: dict[str, Any] = {}
        if resetting.any():
            # Slots whose episode ended last step start a new one: reward 0, not terminated.
            # (state, reward and cell are fields of this step's fresh transition rows.)
            slots = np.flatnonzero(resetting)
            starts = self._take_starts(slots)
            state[slots] = starts
            reward[slots] = 0.0
            cell[slots] = self._steps.no_end
            terminated = cell != self._steps.no_end
            # The reset info of those slots, merged as SyncVectorEnv merges it.
            info = LazyInfo(partial(self._reset_merged_info, cell, terminated.copy(), slots, starts))
        else:
            terminated = cell != self._steps.no_end
            if terminated.any():
                info = LazyInfo(partial(self._final_info.info, cell, terminated.copy()))
        self._state = state
        self._autoreset = terminated.copy()
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
