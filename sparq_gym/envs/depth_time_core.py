"""The depth x time environment's dynamics as one pure function on arrays (spec §9).

A decision point is (head k, timesteps t). Its cost depends on the path that led
there (head j is paid for the t_j timesteps it had run when the agent left it),
so the environment's *state* is (k, t, t_0 <= ... <= t_{k-1}): the timesteps of
every head left behind. Those histories are few (34 for E = 3 heads, T = 4), so
every (sample, state) is enumerated once: its observation, its reward for EXIT,
its cost and counters. A step is then the look-ups of
:func:`sparq_gym.envs.core.exit_step` in the :class:`~sparq_gym.envs.core.StepTables`
of :func:`depth_time_step_tables`: the same step function and the same table layout
as v0, called by the single environment with ints and by the vector environment with
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.core import SampleTables, StepTables, confidence_bins, transition_tables
from sparq_gym.envs.costs import check_full_cost, path_cost
from sparq_gym.envs.decisions import DecisionTables, cached_decisions
from sparq_gym.envs.settings import OBS_TYPES, ObsType
from sparq_gym.traces.timeset import TimeTraceSet

__all__ = [
    "MAX_TABLE_ENTRIES",
    "DepthTimeAction",
    "DepthTimeTables",
    "box_dim",
    "build_depth_time_tables",
    "depth_time_step_tables",
    "enumerate_states",
    "path_cost",
]

MAX_TABLE_ENTRIES = 200_000_000
"""Largest N x S x 3 (samples x states x actions) the tables may hold."""


class DepthTimeAction(IntEnum):
    """The agent's choice at a decision point (k, t)."""

    CONTINUE = 0
    EXIT = 1
    WAIT = 2


def enumerate_states(n_exits: int, n_timesteps: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """Every state ``(k, tau, history)`` with ``tau = t - 1`` and ``history`` the 0-based
    timestep indices ``tau_0 <= ... <= tau_{k-1} <= tau`` at which heads 0..k-1 were left.

    State 0 is the start ``(0, 0, ())``; states are ordered by k, then tau, then history.
    """
    states: list[tuple[int, int, tuple[int, ...]]] = []
    layer: list[tuple[int, ...]] = [()]
    for k in range(n_exits):
        for tau in range(n_timesteps):
            states.extend((k, tau, h) for h in layer if not h or h[-1] <= tau)
        layer = [(*h, tau) for h in layer for tau in range(h[-1] if h else 0, n_timesteps)]
    return states


def box_dim(n_exits: int, n_timesteps: int) -> int:
    """Length of the ``box`` observation: T confidences, entropy, margin, one-hot k (E), t/T, cost."""
    return n_timesteps + 2 + n_exits + 2


@dataclass(frozen=True)
class DepthTimeTables(SampleTables):
    """Per-(sample, state) tables from which every transition is read: :class:`SampleTables`'
    fields with places = the S states (:func:`enumerate_states`; the cost of the path to a
    state includes the current head), predictions of head k after t timesteps (N, E, T),
    the plain network run for T timesteps, and the transitions.

    :param state_head: head k of each state, (S,).
    :param state_time: timestep index tau = t-1 of each state, (S,).
    :param next_state: state after action a, (S, 3); EXIT and masked actions stay.
    :param valid: the action mask of each state, (S, 3).
    :param reward_exit: reward of EXIT at each state, (N, S).
    """

    state_head: NDArray[np.int64]
    state_time: NDArray[np.int64]
    next_state: NDArray[np.int64]
    valid: NDArray[np.bool_]
    reward_exit: NDArray[np.float64]

    @property
    def n_states(self) -> int:
        """Number of states S per sample."""
        return int(self.state_head.shape[0])

    @property
    def n_exits(self) -> int:
        """Number of heads E."""
        return int(self.predictions.shape[1])

    @property
    def n_timesteps(self) -> int:
        """Number of timesteps T."""
        return int(self.predictions.shape[2])

    def decisions(self) -> DecisionTables:
        """These tables as every policy reads them (:class:`~sparq_gym.envs.decisions.DecisionTables`):
        states and places = the S states; a masked action is EXIT's row (spec §9) (built once)."""
        return cached_decisions(self, self._decisions)

    def _decisions(self) -> DecisionTables:
        n, n_states, n_bins = self.n_samples, self.n_states, self.n_bins
        exits = ~self.valid
        exits[:, DepthTimeAction.EXIT] = True
        state_cell = self.state_head * self.n_timesteps + self.state_time
        rows = np.arange(n)[:, None]
        states = np.arange(n_states, dtype=np.int64)
        return DecisionTables(
            family="depth_time", observation=self.observation,
            cell=state_cell[None, :] * n_bins + self.bins[rows, self.state_head, self.state_time],
            cell_shape=(self.n_exits, self.n_timesteps, n_bins), state_cell=state_cell,
            reward=np.where(exits[None], self.reward_exit[:, :, None], 0.0),
            next_state=np.where(exits, -1, self.next_state).astype(np.int64), valid=self.valid,
            end_place=np.where(exits, states[:, None], -1).astype(np.int64),
            exit_action=int(DepthTimeAction.EXIT), labels=self.labels, place_reward=self.reward_exit,
            place_correct=self.correct[rows, self.state_head, self.state_time],
            place_prediction=self.predictions[rows, self.state_head, self.state_time],
            place_savings=self.savings, place_cost=self.cost, place_counts=self.counts,
            place_head=self.state_head, place_timesteps=self.state_time + 1, full_cost=self.full_cost,
            counter_names=self.counter_names, n_bins=n_bins,
            action_names=tuple(a.name for a in DepthTimeAction),
        )


def _transitions(
    states: list[tuple[int, int, tuple[int, ...]]], n_exits: int, n_timesteps: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """``next_state`` and ``valid`` over (state, action)."""
    index = {state: s for s, state in enumerate(states)}
    next_state = np.repeat(np.arange(len(states))[:, None], 3, axis=1)
    valid = np.zeros((len(states), 3), dtype=np.bool_)
    for s, (k, tau, history) in enumerate(states):
        valid[s, DepthTimeAction.EXIT] = True
        if k < n_exits - 1:  # deeper: head k is left after tau + 1 timesteps
            valid[s, DepthTimeAction.CONTINUE] = True
            next_state[s, DepthTimeAction.CONTINUE] = index[(k + 1, tau, (*history, tau))]
        if tau < n_timesteps - 1:  # one more timestep of blocks <= k and of head k
            valid[s, DepthTimeAction.WAIT] = True
            next_state[s, DepthTimeAction.WAIT] = index[(k, tau + 1, history)]
    return next_state.astype(np.int64), valid


def _box(
    traces: TimeTraceSet,
    states: list[tuple[int, int, tuple[int, ...]]],
    confidence: NDArray[np.float64],
    cost_fraction: NDArray[np.float64],
) -> NDArray[np.float32]:
    """Deep-RL features per (sample, state), each in [0, 1] (see the env's docstring)."""
    n, n_exits, n_timesteps, n_classes = traces.probs.shape
    probs = traces.probs.astype(np.float64)
    probs = probs / np.maximum(probs.sum(axis=3, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=3) / np.log(n_classes)
    top2 = np.sort(probs, axis=3)[..., -2:]
    margin = top2[..., 1] - top2[..., 0]
    features = np.zeros((n, len(states), box_dim(n_exits, n_timesteps)), dtype=np.float64)
    for s, (k, tau, _) in enumerate(states):
        features[:, s, : tau + 1] = confidence[:, k, : tau + 1]
        features[:, s, n_timesteps] = entropy[:, k, tau]
        features[:, s, n_timesteps + 1] = margin[:, k, tau]
        features[:, s, n_timesteps + 2 + k] = 1.0
        features[:, s, n_timesteps + 2 + n_exits] = (tau + 1) / n_timesteps
    features[:, :, -1] = cost_fraction
    return np.clip(features, 0.0, 1.0).astype(np.float32)


def build_depth_time_tables(
    traces: TimeTraceSet, *, alpha: float, n_bins: int, cost: str, obs_type: ObsType
) -> DepthTimeTables:
    """Precompute every reward, observation and info value of every (sample, state).

    Path counts at state ``(k, tau, (tau_0..tau_{k-1}))``:
    ``block_counts[k, tau] + sum_j head_counts[j, tau_j] + head_counts[k, tau]``.
    EXIT there earns ``+1 + alpha * (1 - C / C_full)`` if head k after tau + 1
    timesteps is right, else ``-1`` (spec §9, v0's rule).
    """
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")
    n, n_exits, n_timesteps = traces.n_samples, traces.n_exits, traces.n_timesteps
    states = enumerate_states(n_exits, n_timesteps)
    if n * len(states) * 3 > MAX_TABLE_ENTRIES:
        raise ValueError(
            f"{n} samples x {len(states)} states (E={n_exits}, T={n_timesteps}) exceed "
            f"{MAX_TABLE_ENTRIES} table entries; use fewer samples (TimeTraceSet.subset)"
        )
    next_state, valid = _transitions(states, n_exits, n_timesteps)
    head_of = np.array([k for k, _, _ in states], dtype=np.int64)
    time_of = np.array([tau for _, tau, _ in states], dtype=np.int64)
    counts = traces.block_counts[:, head_of, time_of] + traces.head_counts[:, head_of, time_of]
    for s, (_, _, history) in enumerate(states):
        for j, tau_j in enumerate(history):
            counts[:, s] += traces.head_counts[:, j, tau_j]
    path, full_cost = path_cost(counts, traces, cost)
    check_full_cost(full_cost, cost, traces.full_counts, traces.counter_names)
    savings = 1.0 - path / full_cost[:, None]
    labels = traces.labels.astype(np.int64)
    predictions = traces.predictions().astype(np.int64)
    correct = predictions == labels[:, None, None]
    confidence = traces.confidence()
    bins = confidence_bins(confidence, n_bins)
    reward_exit = np.where(correct[:, head_of, time_of], 1.0 + alpha * savings, -1.0)
    observation: NDArray[Any]
    state_bins = bins[:, head_of, time_of]
    if obs_type == "multidiscrete":
        observation = np.stack(np.broadcast_arrays(head_of[None], time_of[None], state_bins), axis=2)
    elif obs_type == "discrete":
        observation = (head_of * n_timesteps + time_of)[None] * n_bins + state_bins
    else:
        observation = _box(traces, states, confidence, path / full_cost[:, None])
    return DepthTimeTables(
        state_head=head_of,
        state_time=time_of,
        next_state=next_state,
        valid=valid,
        reward_exit=reward_exit,
        observation=observation,
        cost=path,
        savings=savings,
        counts=counts,
        labels=labels,
        predictions=predictions,
        correct=correct,
        confidence=confidence,
        bins=bins,
        full_cost=full_cost,
        counter_names=traces.counter_names,
        n_bins=int(n_bins),
    )


def depth_time_step_tables(tables: DepthTimeTables) -> StepTables:
    """Flatten ``tables`` into the per-transition :class:`~sparq_gym.envs.core.StepTables` that
    :func:`~sparq_gym.envs.core.exit_step` reads: state ``3 p`` of position ``p = i S + s``,
    its transition under action a row ``3 p + a``; an EXIT ends in cell ``p``.

    A masked action's row is EXIT's (spec §9: the one action valid everywhere), so every
    action of the action space has a transition; ``valid`` keeps the mask, which the
    environments read for ``info["invalid_action"]`` and for ``invalid_action="raise"``."""
    n, n_states = tables.n_samples, tables.n_states
    position = np.arange(n * n_states, dtype=np.int64)
    base = (position - position % n_states)[:, None]
    next_position = (base + tables.next_state[position % n_states]).reshape(-1)
    exits_per_state = ~tables.valid
    exits_per_state[:, DepthTimeAction.EXIT] = True
    exiting = np.broadcast_to(exits_per_state[None], (n, n_states, 3)).reshape(n * n_states, 3)
    return transition_tables(
        3 * next_position,
        np.where(exiting, tables.reward_exit.reshape(-1)[:, None], 0.0).reshape(-1),
        np.where(exiting, position[:, None], n * n_states).reshape(-1),
        no_end=n * n_states,
        n_actions=3,
        valid=np.broadcast_to(tables.valid[None], (n, n_states, 3)).reshape(-1),
    )
