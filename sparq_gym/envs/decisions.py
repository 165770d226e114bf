"""What every environment family looks like to a policy: one set of decision tables.

A family's own tables (:class:`~sparq_gym.envs.core.ExitTables` for v0,
:class:`~sparq_gym.envs.depth_time_core.DepthTimeTables` for depth x time) describe its
MDP in its own terms. :class:`DecisionTables` is the common form that every policy,
evaluation, reference and learner of ``agents`` reads, so that none of them is written
per family:

* per sample i and **decision state** s (S of them, state 0 the start): the observation
  the agent sees, the **tabular cell** it falls in (the ``discrete`` observation, a flat
  index into a table of shape :attr:`cell_shape`) and the reward of each action;
* per state and action: the next state (-1 when the action ends the episode), whether
  the action is valid there (the mask) and the **place** the episode ends at;
* per sample and place (P of them: v0's E exits, depth x time's S states): what ending
  there earns and costs (reward, correct, savings, cost, counters, head, timesteps).

A masked action is taken as EXIT (spec §9), so its row is EXIT's. A new family plugs in
by writing one ``decisions()`` method on its tables that fills this class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecisionTables", "cached_decisions", "subset_decisions"]

_PER_SAMPLE = (
    "observation",
    "cell",
    "reward",
    "labels",
    "place_reward",
    "place_correct",
    "place_prediction",
    "place_savings",
    "place_cost",
    "place_counts",
    "full_cost",
)


@dataclass(frozen=True)
class DecisionTables:
    """A family's MDP over one split, in the form every policy and evaluation reads.

    N samples, S decision states, A actions, P places, K counters.

    :param family: the family's name (``"exit"`` or ``"depth_time"``), for messages.
    :param observation: observation at each (sample, state), (N, S) or (N, S, D).
    :param cell: tabular cell of each (sample, state), a flat index into :attr:`cell_shape`, (N, S).
    :param cell_shape: shape of a table over the tabular observation (v0: (E-1, B);
        depth x time: (E, T, B)); its entries are the ``multidiscrete`` observation.
    :param state_cell: the cell of each state without its confidence bin, (S,): the cell
        of (sample i, state s) is ``state_cell[s] * B + bin``.
    :param reward: reward of each action at each (sample, state), (N, S, A).
    :param next_state: state after each action, -1 where it ends the episode, (S, A).
    :param valid: the action mask, (S, A).
    :param end_place: place the episode ends at after each action, -1 where it goes on, (S, A).
    :param exit_action: the action valid everywhere, taken in place of a masked one.
    :param labels: true class, (N,).
    :param place_reward: reward of ending each sample at each place, (N, P).
    :param place_correct: whether the answer there is right, (N, P).
    :param place_prediction: the answer there, (N, P).
    :param place_savings: ``1 - C / C_full`` there, (N, P).
    :param place_cost: cost of the path there under the environment's cost, (N, P).
    :param place_counts: raw counters of the path there, (N, P, K).
    :param place_head: head answering at each place, (P,).
    :param place_timesteps: timesteps run at each place (``None`` for a family without time), (P,).
    :param full_cost: cost of the plain network, (N,).
    :param counter_names: the K counter names.
    :param n_bins: B, the confidence bins of the tabular observation.
    :param action_names: name of each action.
    """

    family: str
    observation: NDArray[Any]
    cell: NDArray[np.int64]
    cell_shape: tuple[int, ...]
    state_cell: NDArray[np.int64]
    reward: NDArray[np.float64]
    next_state: NDArray[np.int64]
    valid: NDArray[np.bool_]
    end_place: NDArray[np.int64]
    exit_action: int
    labels: NDArray[np.int64]
    place_reward: NDArray[np.float64]
    place_correct: NDArray[np.bool_]
    place_prediction: NDArray[np.int64]
    place_savings: NDArray[np.float64]
    place_cost: NDArray[np.float64]
    place_counts: NDArray[np.int64]
    place_head: NDArray[np.int64]
    place_timesteps: NDArray[np.int64] | None
    full_cost: NDArray[np.float64]
    counter_names: tuple[str, ...]
    n_bins: int
    action_names: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return int(self.labels.shape[0])

    @property
    def n_states(self) -> int:
        """Number of decision states S."""
        return int(self.next_state.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return int(self.next_state.shape[1])

    @property
    def n_heads(self) -> int:
        """Number of heads E (the final one included)."""
        return int(self.place_head.max()) + 1

    @property
    def masked(self) -> bool:
        """Whether some action is invalid somewhere (the family has action masks)."""
        return not bool(self.valid.all())

    @cached_property
    def max_steps(self) -> int:
        """The most decisions an episode can take (the longest path through the states)."""
        depth = np.zeros(self.n_states, dtype=np.int64)
        for s in range(self.n_states - 1, -1, -1):  # states are ordered: a successor comes later
            nexts = self.next_state[s][(self.next_state[s] > s) & self.valid[s]]
            depth[s] = 1 + (int(depth[nexts].max()) if nexts.size else 0)
        return int(depth[0])

    @cached_property
    def cell_valid(self) -> NDArray[np.bool_]:
        """The action mask of each tabular cell, (n_cells, A): a cell's states share one mask."""
        masks = np.ones((int(np.prod(self.cell_shape)), self.n_actions), dtype=np.bool_)
        for s in range(self.n_states):
            masks[self.state_cell[s] * self.n_bins + np.arange(self.n_bins)] = self.valid[s]
        return masks


def cached_decisions(tables: Any, build: Callable[[], DecisionTables]) -> DecisionTables:
    """``build()`` once per family tables object (frozen), kept on it: every caller of its
    ``decisions()`` (evaluation, tuning, the exact optima) shares one."""
    held: DecisionTables | None = tables.__dict__.get("_decisions")
    if held is None:
        held = build()
        object.__setattr__(tables, "_decisions", held)
    return held


def subset_decisions(decisions: DecisionTables, indices: NDArray[np.integer[Any]]) -> DecisionTables:
    """The tables of the samples at ``indices`` only (per-sample arrays sliced, the rest shared)."""
    idx = np.asarray(indices)
    return replace(decisions, **{name: getattr(decisions, name)[idx] for name in _PER_SAMPLE})
