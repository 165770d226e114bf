"""What the environment families (v0 and depth x time) share around their step functions.

Each family has its own tables and its own pure step function; everything around them is
written once here: the in-memory trace source, the checks of the constructor arguments,
the sample draws of a single environment (:class:`SampleDraws`) and the per-slot
generators and draw cursors of a vector environment (:class:`SlotDraws`), so that a slot
seeded with ``seed + i`` draws the same samples as a single environment seeded alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from sparq_gym.envs.core import SAMPLE_BLOCK, draw_sample_block
from sparq_gym.envs.settings import ExitSettings

__all__ = [
    "SampleDraws",
    "SlotDraws",
    "check_render_mode",
    "check_vector_arguments",
    "given_traces",
]

TracesT = TypeVar("TracesT")


def given_traces(traces: Any, split: str | None, kind: type[TracesT], kind_name: str) -> TracesT:
    """``traces`` passed in memory, checked to be a ``kind`` whose split agrees with ``split``."""
    if not isinstance(traces, kind):
        raise ValueError(f"traces must be a {kind_name}, got {type(traces).__name__}")
    if split is not None and split != traces.split:  # type: ignore[attr-defined]
        raise ValueError(
            f"split={split!r} conflicts with the given traces, which are split {traces.split!r}"  # type: ignore[attr-defined]
        )
    return traces


def check_render_mode(render_mode: str | None, metadata: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``render_mode`` is None or one of ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ValueError(
            f"render_mode must be None or one of {metadata['render_modes']}, got {render_mode!r}"
        )


def check_vector_arguments(
    num_envs: Any, autoreset_mode: AutoresetMode | str, render_mode: str | None, settings: dict[str, Any]
) -> tuple[AutoresetMode, ExitSettings]:
    """Check a vector environment's own arguments; return its autoreset mode and settings."""
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
    return mode, ExitSettings(**settings)


class SampleDraws:
    """Mixin of a single environment (before ``gym.Env``): the sample each episode starts on.

    Samples are drawn from ``self.np_random`` in blocks of :data:`~sparq_gym.envs.core.SAMPLE_BLOCK`
    (:func:`~sparq_gym.envs.core.draw_sample_block`); a new generator (seeding, or assigning
    ``np_random``) drops what the old one drew.
    """

    _draws: Iterator[int] = iter(())

    @property
    def np_random(self) -> np.random.Generator:
        """The environment's generator (Gymnasium's), the source of every sample draw."""
        return gym.Env.np_random.fget(self)  # type: ignore[attr-defined,no-any-return]

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        gym.Env.np_random.fset(self, value)  # type: ignore[attr-defined]
        self._draws = iter(())  # drawn from the old generator: draw anew from this one

    def _start_sample(self, options: dict[str, Any] | None, n_samples: int, error: type[Exception]) -> int:
        """``options["sample_index"]`` (checked: an integer in [0, N), else ``error``) or the next draw."""
        if options and "sample_index" in options:
            sample = options["sample_index"]
            if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
                raise error(f"options['sample_index'] must be an integer, got {sample!r}")
            if not 0 <= sample < n_samples:
                raise error(f"options['sample_index'] must lie in [0, {n_samples}), got {sample}")
            return int(sample)
        sample = next(self._draws, -1)
        if sample < 0:
            self._draws = iter(draw_sample_block(self.np_random, n_samples).tolist())
            sample = next(self._draws)
        return sample


class SlotDraws:
    """The start draws of the ``n`` slots of a vector environment, one generator per slot.

    Slot i's draws fill row i of a table with one spare -1 after the block; a cursor per
    slot walks its row. A slot that reads the -1 draws its next block from its own
    generator, as a single environment would when it needs it, and reads again.
    What :meth:`take` returns is the drawn sample times ``scale`` (a start state).

    :param n: number of slots.
    :param n_samples: N, the samples drawn from.
    :param scale: factor applied to each drawn sample index.
    :param dtype: dtype of the stored draws.
    """

    def __init__(self, n: int, n_samples: int, scale: int, dtype: Any) -> None:
        self.n, self.n_samples, self.scale = n, n_samples, scale
        self.rngs: list[np.random.Generator] = []
        self.draws = np.full(n * (SAMPLE_BLOCK + 1), -1, dtype=dtype)
        self.cursor = np.arange(n, dtype=np.int64) * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK

    def reseed(self, seed: int | Sequence[int | None] | None, error: type[Exception]) -> None:
        """Seed slot i with ``seed + i`` (or ``seed[i]``; ``None`` keeps a slot's generator).

        The first call makes every slot's generator (unseeded where its seed is None); a
        seeded slot drops its remaining draws. A list of the wrong length raises ``error``.
        """
        n = self.n
        if seed is None:
            seeds: list[int | None] = [None] * n
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise error(f"seed list must have num_envs={n} entries, got {len(seeds)}")
        if not self.rngs:
            self.rngs = [seeding.np_random(s)[0] for s in seeds]
            return
        for i, s in enumerate(seeds):
            if s is not None:
                self.rngs[i] = seeding.np_random(s)[0]
                self.cursor[i] = i * (SAMPLE_BLOCK + 1) + SAMPLE_BLOCK  # draw anew

    def take(self, slots: NDArray[np.int64]) -> NDArray[Any]:
        """The next start of each slot in ``slots`` (sample times ``scale``), consumed from its draws."""
        cursor = self.cursor[slots]
        starts = self.draws.take(cursor)
        if starts.size and starts.min() < 0:
            for slot in slots[starts < 0].tolist():
                row = slot * (SAMPLE_BLOCK + 1)
                block = draw_sample_block(self.rngs[slot], self.n_samples) * self.scale
                self.draws[row : row + SAMPLE_BLOCK] = block
                self.cursor[slot] = row
            cursor = self.cursor[slots]
            starts = self.draws.take(cursor)
        self.cursor[slots] = cursor + 1
        return starts
