"""The start draws of a native vector environment's slots: per-slot generators, drawn ahead.

A slot of a vector environment seeded with ``seed + i`` must draw the same images, in the
same order, as a single environment seeded with ``seed + i`` (the single environment
draws them in blocks of :data:`~sparq_gym.envs.core.SAMPLE_BLOCK` from its generator).
:class:`SlotDraws` keeps one generator and one row of draws per slot, so that a step
takes the next start of thousands of slots with two gathers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from numpy.typing import NDArray

from sparq_gym.envs.core import SAMPLE_BLOCK, draw_sample_block

__all__ = ["SPARE_DRAWS", "SlotDraws"]

SPARE_DRAWS = 64
"""A slot of the vector env holds up to this many draws besides a full block: slots with fewer
left are topped up with their next block every this many takes, not checked at every take."""


class SlotDraws:
    """The start draws of the ``n`` slots of a vector environment, one generator per slot.

    Slot i's draws fill row i of a table (a block of :data:`SAMPLE_BLOCK` from its own
    generator, as a single environment draws them, behind what is left of the previous
    one); a cursor per slot walks its row. A take consumes at most one draw per slot, so
    every :data:`SPARE_DRAWS` takes the slots with fewer than that left get their next block
    (:meth:`_top_up`), and no take needs to check. What :meth:`take` returns is the drawn
    sample times ``scale`` (a start state).

    :param n: number of slots.
    :param n_samples: N, the samples drawn from.
    :param scale: factor applied to each drawn sample index.
    :param dtype: dtype of the stored draws.
    """

    def __init__(self, n: int, n_samples: int, scale: int, dtype: Any) -> None:
        self.n, self.n_samples, self.scale = n, n_samples, scale
        self.rngs: list[np.random.Generator] = []
        self.width = SAMPLE_BLOCK + SPARE_DRAWS
        self.draws = np.zeros(n * self.width, dtype=dtype)
        self.cursor = np.arange(n, dtype=np.int64) * self.width  # the next draw of each slot
        self.end = self.cursor.copy()  # one past its last draw: every slot starts empty
        self.safe = 0  # takes left before a top-up

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
                self.cursor[i] = self.end[i] = i * self.width  # draw anew
                self.safe = 0

    def take(self, slots: NDArray[np.int64]) -> NDArray[Any]:
        """The next start of each slot in ``slots`` (sample times ``scale``), consumed from its draws."""
        if self.safe <= 0:
            self._top_up()
        self.safe -= 1
        cursor = self.cursor.take(slots)
        self.cursor[slots] = cursor + 1
        return self.draws.take(cursor)

    def give_back(self, slots: NDArray[np.int64]) -> None:
        """Undo the last :meth:`take` of each slot in ``slots``: its next take returns that start again."""
        self.cursor[slots] -= 1

    def _top_up(self) -> None:
        """Move what is left of each slot with fewer than :data:`SPARE_DRAWS` draws to the front
        of its row and draw its next block behind it."""
        for slot in np.flatnonzero(self.end - self.cursor < SPARE_DRAWS).tolist():
            row, left = slot * self.width, self.end[slot] - self.cursor[slot]
            self.draws[row : row + left] = self.draws[self.cursor[slot] : self.end[slot]]
            block = draw_sample_block(self.rngs[slot], self.n_samples) * self.scale
            self.draws[row + left : row + left + SAMPLE_BLOCK] = block
            self.cursor[slot], self.end[slot] = row, row + left + SAMPLE_BLOCK
        self.safe = SPARE_DRAWS
