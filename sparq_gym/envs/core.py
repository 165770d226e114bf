"""The environment's dynamics as one pure function on arrays.

Everything an episode can see or earn is a function of (sample, exit, action),
so it is computed once per environment from the traces and stored in the
tables of :class:`ExitTables`. A step is then a handful of array look-ups in
:func:`exit_step`, which the single environment calls with scalars and the
vector environment with arrays of thousands of episodes: both share the same
transition code by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.costs import check_full_cost, resolve_cost
from sparq_gym.envs.decisions import DecisionTables, cached_decisions
from sparq_gym.envs.settings import OBS_TYPES, ObsType
from sparq_gym.traces import TraceSet

__all__ = [
    "OBS_TYPES",
    "SAMPLE_BLOCK",
    "Action",
    "ExitTables",
    "ObsType",
    "SampleTables",
    "StepTables",
    "build_exit_tables",
    "confidence_bins",
    "draw_sample_block",
    "end_cell",
    "exit_step",
    "step_tables",
    "transition_tables",
]

SAMPLE_BLOCK = 1024
"""Sample indices are drawn from the environment's generator this many at a time."""


class Action(IntEnum):
    """The agent's choice at an early exit."""

    CONTINUE = 0
    EXIT = 1


@dataclass(frozen=True)
class SampleTables:
    """What the tables of both environment families hold per sample: its observations, the
    prediction of every head and the cost of every place an episode can end.

    N samples, E heads (final head last), K counters; a *place* is an exit (v0: shape E) or
    a state (depth x time: S states, the heads' predictions over T timesteps).

    :param observation: observation at each decision point, (N, P) for ``discrete`` or
        (N, P, D) otherwise (P: E-1 early exits, or S states).
    :param labels: true class, (N,).
    :param predictions: predicted class of every head, (N, E) or (N, E, T).
    :param correct: whether that prediction is right, same shape.
    :param confidence: its max-softmax, same shape.
    :param bins: its confidence bin, same shape.
    :param cost: cost of reaching each place under the chosen cost, (N, E) or (N, S).
    :param full_cost: cost of the plain network, (N,).
    :param savings: ``1 - cost / full_cost``, as ``cost``.
    :param counts: raw counters to reach each place, (N, E, K) or (N, S, K).
    :param counter_names: names of the K counters.
    :param n_bins: B, the number of confidence bins.
    """

    observation: NDArray[Any]
    labels: NDArray[np.int64]
    predictions: NDArray[np.int64]
    correct: NDArray[np.bool_]
    confidence: NDArray[np.float64]
    bins: NDArray[np.int64]
    cost: NDArray[np.float64]
    full_cost: NDArray[np.float64]
    savings: NDArray[np.float64]
    counts: NDArray[np.int64]
    counter_names: tuple[str, ...]
    n_bins: int

    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class ExitTables(SampleTables):
    """Per-sample tables from which every transition is read (:class:`SampleTables`' fields
    with places = the E exits, and the transitions).

    Shapes use N samples, E exits (final head last); the agent decides at the E-1 early exits.

    :param reward: reward of taking action a at early exit k for sample i, (N, E-1, 2).
    :param decided_exit: exit whose prediction ends the episode after action a at early
        exit k, or -1 when the episode goes on, (E-1, 2).
    :param next_exit: early exit the agent is at after action a at early exit k, (E-1, 2);
        on a terminal transition it stays at k.
    """

    reward: NDArray[np.float64]
    decided_exit: NDArray[np.int64]
    next_exit: NDArray[np.int64]

    @property
    def n_early_exits(self) -> int:
        """Number of decision points E-1."""
        return int(self.decided_exit.shape[0])

    def decisions(self) -> DecisionTables:
        """These tables as every policy reads them (:class:`~sparq_gym.envs.decisions.DecisionTables`):
        states = the E-1 early exits, places = the E exits, every action valid (built once)."""
        return cached_decisions(self, self._decisions)

    def _decisions(self) -> DecisionTables:
        n_early, n_bins = self.n_early_exits, self.n_bins
        early = np.arange(n_early, dtype=np.int64)
        next_state = np.where(self.decided_exit >= 0, -1, self.next_exit).astype(np.int64)
        n_exits = n_early + 1
        place_reward = np.concatenate(
            [self.reward[:, :, Action.EXIT], self.reward[:, n_early - 1 : n_early, Action.CONTINUE]], axis=1
        )
        return DecisionTables(
            family="exit", observation=self.observation,
            cell=early[None, :] * n_bins + self.bins[:, :n_early],
            cell_shape=(n_early, n_bins), state_cell=early, reward=self.reward, next_state=next_state,
            valid=np.ones((n_early, 2), dtype=np.bool_), end_place=self.decided_exit.copy(),
            exit_action=int(Action.EXIT), labels=self.labels, place_reward=place_reward,
            place_correct=self.correct, place_prediction=self.predictions, place_savings=self.savings,
            place_cost=self.cost, place_counts=self.counts, place_head=np.arange(n_exits, dtype=np.int64),
            place_timesteps=None, full_cost=self.full_cost, counter_names=self.counter_names,
            n_bins=n_bins, action_names=tuple(a.name for a in Action),
        )


def confidence_bins(confidence: NDArray[np.floating[Any]], n_bins: int) -> NDArray[np.int64]:
    """Bin max-softmax confidences: ``b = min(floor(conf * B), B - 1)``.

    Confidences are clipped to [0, 1] first, so a confidence of exactly 1.0
    lands in the last bin B-1 and 0.0 in bin 0.
    """
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    return np.minimum(np.floor(conf * n_bins).astype(np.int64), n_bins - 1)


def _box_features(traces: TraceSet, confidence: NDArray[np.float64]) -> NDArray[np.float32]:
    """Deep-RL features per (sample, early exit): confidence, entropy, margin, one-hot exit.

    Entropy is divided by ``log C`` and the margin is top-1 minus top-2
    probability, so every feature lies in [0, 1].
    """
    n, n_exits, n_classes = traces.probs.shape
    probs = traces.probs[:, : n_exits - 1].astype(np.float64)
    probs = probs / np.maximum(probs.sum(axis=2, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=2) / np.log(n_classes)
    top2 = np.sort(probs, axis=2)[:, :, -2:]
    margin = top2[:, :, 1] - top2[:, :, 0]
    one_hot = np.broadcast_to(np.eye(n_exits - 1), (n, n_exits - 1, n_exits - 1))
    features = np.concatenate(
        [confidence[:, : n_exits - 1, None], entropy[:, :, None], margin[:, :, None], one_hot],
        axis=2,
    )
    return np.clip(features, 0.0, 1.0).astype(np.float32)


def build_exit_tables(
    traces: TraceSet, *, alpha: float, n_bins: int, cost: str, obs_type: ObsType
) -> ExitTables:
    """Precompute every reward, observation and info value for ``traces``.

    Reward of ending the episode at exit e for sample i (spec §5):
    ``+1 + alpha * s[i, e]`` if head e is right, else ``-1``, where
    ``s = 1 - C[i, e] / C_full[i]`` under the chosen ``cost``. EXIT at early
    exit k ends at k; CONTINUE at the last early exit ends at the final head;
    any other CONTINUE earns 0 and moves to exit k+1.
    """
    n_exits = traces.n_exits
    n_early = n_exits - 1
    labels = traces.labels.astype(np.int64)
    predictions = traces.predictions().astype(np.int64)
    correct = predictions == labels[:, None]
    confidence = traces.confidence()
    bins = confidence_bins(confidence, n_bins)
    exit_cost, full_cost = resolve_cost(traces, cost)
    check_full_cost(full_cost, cost, traces.full_counts, traces.counter_names)
    savings = 1.0 - exit_cost / full_cost[:, None]
    end_reward = np.where(correct, 1.0 + alpha * savings, -1.0)

    # Transition structure over (early exit k, action a).
    decided_exit = np.full((n_early, 2), -1, dtype=np.int64)
    next_exit = np.zeros((n_early, 2), dtype=np.int64)
    for k in range(n_early):
        decided_exit[k, Action.EXIT] = k
        next_exit[k, Action.EXIT] = k
        if k == n_early - 1:
            decided_exit[k, Action.CONTINUE] = n_exits - 1  # on to the final head
            next_exit[k, Action.CONTINUE] = k
        else:
            next_exit[k, Action.CONTINUE] = k + 1

    reward = np.zeros((traces.n_samples, n_early, 2), dtype=np.float64)
    reward[:, :, Action.EXIT] = end_reward[:, :n_early]
    reward[:, n_early - 1, Action.CONTINUE] = end_reward[:, n_exits - 1]

    early = np.arange(n_early)
    observation: NDArray[Any]
    if obs_type == "multidiscrete":
        observation = np.stack(np.broadcast_arrays(early[None, :], bins[:, :n_early]), axis=2).astype(
            np.int64
        )
    elif obs_type == "discrete":
        observation = (early[None, :] * n_bins + bins[:, :n_early]).astype(np.int64)
    elif obs_type == "box":
        observation = _box_features(traces, confidence)
    else:
        raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}, got {obs_type!r}")

    return ExitTables(
        reward=reward, decided_exit=decided_exit, next_exit=next_exit, observation=observation,
        labels=labels, predictions=predictions, correct=correct, confidence=confidence, bins=bins,
        cost=exit_cost, full_cost=full_cost, savings=savings, counts=traces.exit_counts,
        counter_names=traces.counter_names, n_bins=int(n_bins),
    )


@dataclass(frozen=True, slots=True)
class StepTables:
    """Everything a step reads: the outcome of every transition, computed once per configuration.

    Both environment families encode an episode's state as one integer whose transition
    under action a is row ``state + a`` (v0: ``s = 2 (sample * (E-1) + k)`` at early exit
    k; depth x time: ``s = 3 (sample * S + state)``). Per row, what the configuration
    (alpha, cost, bins) fixes: the state after it (unchanged when the episode ends), the
    reward, whether the episode ends, whether the action is valid there, and the *cell*
    whose prediction ended it (v0: ``sample * E + e``; depth x time: the position of the
    EXIT; :attr:`no_end` when it goes on), which only the info reads.

    The arrays hold a second block of :attr:`pending` rows for the vector environments'
    autoreset: state ``pending + s0`` is "the episode has ended and the next one starts at
    ``s0``"; every action there is valid and moves to ``s0`` with reward 0 and no end, so
    the reset step of ``NEXT_STEP`` is the same look-ups as any other step.

    :param next_state: state after each row, ``2 pending`` entries (int64).
    :param reward: reward of each row (float64).
    :param ends: whether each row ends the episode (bool).
    :param valid: whether each row's action is allowed in its state (bool).
    :param end_cell: cell that ended the episode, or ``no_end`` (int64).
    :param rows: ``(next_state, reward, ends)`` tuples of the first ``pending`` rows, for
        the single environments (indexing a list with an int is several times cheaper than
        indexing an array).
    :param cells: ``end_cell`` of the first ``pending`` rows, as a list.
    :param no_end: one past the last cell: "the episode goes on".
    :param pending: the number of transition rows, and the first pending state.
    :param n_actions: actions per state (rows per state).
    """

    next_state: NDArray[np.int64]
    reward: NDArray[np.float64]
    ends: NDArray[np.bool_]
    valid: NDArray[np.bool_]
    end_cell: NDArray[np.int64]
    rows: list[tuple[int, float, bool]]
    cells: list[int]
    no_end: int
    pending: int
    n_actions: int


def transition_tables(
    next_state: NDArray[np.int64],
    reward: NDArray[np.float64],
    end_cell: NDArray[np.int64],
    *,
    no_end: int,
    n_actions: int,
    valid: NDArray[np.bool_] | None = None,
) -> StepTables:
    """:class:`StepTables` of the given rows (row ``state + a`` of states that are multiples
    of ``n_actions``), with their pending block; ``valid`` defaults to every row."""
    pending = next_state.shape[0]
    index = np.arange(pending, dtype=np.int64)
    ends = end_cell != no_end
    return StepTables(
        next_state=np.concatenate([next_state, index - index % n_actions]),  # row s0 + a of pending + s0
        reward=np.concatenate([reward.astype(np.float64), np.zeros(pending)]),
        ends=np.concatenate([ends, np.zeros(pending, dtype=np.bool_)]),
        valid=np.concatenate(
            [np.ones(pending, dtype=np.bool_) if valid is None else valid, np.ones(pending, dtype=np.bool_)]
        ),
        end_cell=np.concatenate([end_cell, np.full(pending, no_end, dtype=np.int64)]),
        rows=list(zip(next_state.tolist(), reward.tolist(), ends.tolist())),
        cells=end_cell.tolist(),
        no_end=no_end,
        pending=pending,
        n_actions=n_actions,
    )


def step_tables(tables: ExitTables) -> StepTables:
    """Flatten v0's ``tables`` into the per-transition :class:`StepTables` that :func:`exit_step` reads."""
    n, n_early = tables.n_samples, tables.n_early_exits
    n_exits = n_early + 1
    position = np.arange(n * n_early, dtype=np.int64)
    sample = position // n_early
    # Per (position, action), row-major: the transition of action a at state s = 2 position is s + a.
    decided = np.broadcast_to(tables.decided_exit[None], (n, n_early, 2)).reshape(-1)
    moved = np.broadcast_to((tables.next_exit - np.arange(n_early)[:, None])[None], (n, n_early, 2))
    no_end = n * n_exits
    return transition_tables(
        2 * (position.repeat(2) + moved.reshape(-1)),
        tables.reward.reshape(-1),
        np.where(decided >= 0, sample.repeat(2) * n_exits + decided, no_end),
        no_end=no_end,
        n_actions=2,
    )


def exit_step(tables: StepTables, state: Any, action: Any) -> Any:
    """One transition for one episode (ints) or many (equal-shaped int64 arrays).

    The only dynamics of both environment families: the single environments call it with
    ints, the vector environments with arrays of thousands of episodes (whose states may
    be pending ones).

    :param tables: the environment's :class:`StepTables`.
    :param state: the state of each episode (see :class:`StepTables`).
    :param action: the action of each episode (checked against the action space and the
        mask, ``tables.valid[state + action]``, by the caller).
    :return: ``(next_state, reward, terminated)``: a tuple for one episode, three fresh
        arrays for many. Where the episode ends, :func:`end_cell` names the exit whose
        prediction was used.
    """
    if type(state) is int:
        return tables.rows[state + action]
    row = state + action
    return tables.next_state.take(row), tables.reward.take(row), tables.ends.take(row)


def end_cell(tables: StepTables, state: Any, action: Any) -> Any:
    """The cell ``sample * E + e`` whose head e answered, for transitions that end the episode
    (``tables.no_end`` for the others); ints or arrays, as :func:`exit_step`."""
    if type(state) is int:
        return tables.cells[state + action]
    return tables.end_cell.take(state + action)


def draw_sample_block(rng: np.random.Generator, n_samples: int) -> NDArray[np.int64]:
    """Draw the next :data:`SAMPLE_BLOCK` uniform sample indices from ``rng``.

    Both environments draw in blocks of this size so that a single environment
    and one slot of the vector environment seeded alike see the same samples.
    """
    return rng.integers(n_samples, size=SAMPLE_BLOCK)
