"""The best deterministic (exit, confidence bin) -> action policy on a set of traces.

The observation of the SPARQ environments is ``(k, b)``: the early exit and the
binned confidence of its head. A deterministic policy over it is a 0/1 table
``pi[k, b]`` with (E-1) x B entries, so there are ``2**((E-1) B)`` of them
(2**20 for the shipped environments). This module finds the one with the
highest mean return on the given (``train``) traces, exactly, by searching
``2**((E-2) B)`` of them and solving the last early exit in closed form.

Why the answer is exact
-----------------------
Let m = E-1 be the number of early exits and ``R[i, e]`` the reward of ending
sample i at exit e (``e = m`` is the final head). Under a table policy, sample
i ends at the first early exit k with ``pi[k, b_ik] = 1``, or at the final
head; its return is ``R[i, that exit]`` and the objective is the sum over
samples.

1. Fix the rows ``pi[0], ..., pi[m-2]`` (every exit but the last). This fixes,
   for every sample, whether it ends before exit m-1 (and with which reward)
   or reaches it. Call the reaching set S.
2. The remaining row ``pi[m-1]`` only affects samples in S, and entry
   ``pi[m-1, b]`` only affects the samples of S in bin b. The objective is a
   sum of independent terms, one per bin:
   ``sum_{i in S, b_i = b} R[i, m-1]`` if ``pi[m-1, b] = 1`` else
   ``sum_{i in S, b_i = b} R[i, m]``. So the best row is the per-bin max,
   and this choice is optimal for the fixed rows of step 1.
3. Taking the maximum of step 2's value over every assignment of the rows of
   step 1 therefore gives the maximum over all ``2**(m B)`` tables.

Only bins that some sample of the traces falls into are enumerated (an entry
that no sample reads cannot change the objective); entries no training
sample reads are filled from the nearest bin with data at the same exit
(higher bins first), so the table is defined everywhere for ``test``.
Sums are computed per joint cell ``(b_0, ..., b_{m-2})`` of the enumerated
exits, not per sample, so each candidate costs O(cells x B).

Why not plain backward induction: solving the last exit first on *all*
samples and then the earlier exits given those values is not exact, because
the best choice at the last exit depends on which samples the earlier exits
let through (the policy sees only ``(k, b)``, not the path). The test suite
has a three-sample counterexample; the search above has no such gap and is
checked against brute force over all tables.

>>> import numpy as np
>>> from sparq_gym.envs.core import build_exit_tables
>>> from sparq_gym.traces import make_synthetic_traces
>>> traces = make_synthetic_traces(300, seed=0, split="train")
>>> tables = build_exit_tables(traces, alpha=0.3, n_bins=4, cost="total_ops", obs_type="multidiscrete")
>>> result = solve_exact_optimum(tables, n_bins=4)
>>> result.policy.actions.shape, result.n_candidates
((2, 4), 16)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.policy import TablePolicy, end_rewards
from sparq_gym.envs.core import ExitTables

__all__ = [
    "MAX_CANDIDATES",
    "ExactOptimum",
    "describe",
    "discount_weights",
    "fill_unseen_bins",
    "solve_exact_optimum",
]

MAX_CANDIDATES = 1 << 24
"""Largest number of row assignments the search accepts (about 16.8 M)."""

_CHUNK = 1 << 14


@dataclass(frozen=True)
class ExactOptimum:
    """Result of :func:`solve_exact_optimum`.

    :param policy: the optimal table (E-1, B).
    :param mean_return: its mean return on the traces it was solved on.
    :param n_candidates: row assignments searched (each solved in closed form at the last exit).
    """

    policy: TablePolicy
    mean_return: float
    n_candidates: int


def fill_unseen_bins(
    actions: NDArray[np.int64], seen: NDArray[np.bool_], default: int = 0
) -> NDArray[np.int64]:
    """Copy into every unseen (k, b) entry the action of the nearest seen bin at exit k.

    Higher bins are preferred at equal distance; a row with no seen bin gets
    ``default`` (CONTINUE).
    """
    filled = actions.copy()
    n_bins = actions.shape[1]
    for k in range(actions.shape[0]):
        seen_bins = np.flatnonzero(seen[k])
        for b in range(n_bins):
            if seen[k, b]:
                continue
            if seen_bins.size == 0:
                filled[k, b] = default
                continue
            distance = np.abs(seen_bins - b) * 2 - (seen_bins > b)  # ties go to the higher bin
            filled[k, b] = actions[k, seen_bins[np.argmin(distance)]]
    return filled


def discount_weights(n_exits: int, gamma: float) -> NDArray[np.float64]:
    """Weight of the reward of ending at each exit under the per-step discount ``gamma``, (E,).

    Ending at early exit k takes k CONTINUE steps before the EXIT step, so its
    reward is discounted by ``gamma**k``; the final head's reward arrives on the
    step that CONTINUEs at the last early exit (k = E-2), so it gets
    ``gamma**(E-2)``, the same as exiting there.
    """
    steps = np.minimum(np.arange(n_exits), n_exits - 2)
    return float(gamma) ** steps.astype(np.float64)


def solve_exact_optimum(tables: ExitTables, n_bins: int | None = None, *, gamma: float = 1.0) -> ExactOptimum:
    """The table policy with the highest mean return on ``tables`` (see the module docstring).

    :param tables: exit tables of the traces to optimise on (the ``train`` split).
    :param n_bins: B; defaults to one more than the largest bin in ``tables``.
    :param gamma: per-step discount of the objective. 1 (the default) is the
        environment's return, the one every policy is evaluated on. Below 1 the
        search maximises the discounted return that Q-learning with that
        ``gamma`` maximises (:func:`discount_weights`); ``mean_return`` is then
        that discounted mean. With the paper's 0.9 this is the best table the
        paper's objective asks for, which can differ from the return-optimal one.
    :raises ValueError: when more than :data:`MAX_CANDIDATES` assignments would be
        needed, or when ``gamma`` is not in (0, 1].
    """
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
    rewards = end_rewards(tables)
    n_samples, n_exits = rewards.shape
    if gamma != 1.0:
        rewards = rewards * discount_weights(n_exits, gamma)[None, :]
    m = n_exits - 1
    bins = tables.bins[:, :m]
    n_bins = int(bins.max(initial=0)) + 1 if n_bins is None else int(n_bins)
    if n_samples == 0:
        raise ValueError("cannot optimise a policy on an empty trace set")

    # Joint cells of the enumerated exits 0..m-2; the last exit is solved per bin.
    if m > 1:
        cells, cell_of = np.unique(bins[:, : m - 1], axis=0, return_inverse=True)
        cell_of = cell_of.reshape(-1)
    else:
        cells, cell_of = np.zeros((1, 0), dtype=np.int64), np.zeros(n_samples, dtype=np.int64)
    n_cells = cells.shape[0]
    last_bin = bins[:, m - 1]
    # Per cell: reward if it ends at enumerated exit k; per (cell, last bin): exit vs final.
    early_sum = np.zeros((n_cells, max(m - 1, 1)))
    for k in range(m - 1):
        np.add.at(early_sum[:, k], cell_of, rewards[:, k])
    exit_sum = np.zeros((n_cells, n_bins))
    final_sum = np.zeros((n_cells, n_bins))
    np.add.at(exit_sum, (cell_of, last_bin), rewards[:, m - 1])
    np.add.at(final_sum, (cell_of, last_bin), rewards[:, m])

    # Free variables: the (k, b) entries of the enumerated exits that some cell reads.
    free = [(k, int(b)) for k in range(m - 1) for b in np.unique(cells[:, k])]
    n_candidates = 1 << len(free)
    if n_candidates > MAX_CANDIDATES:
        raise ValueError(
            f"exact search needs 2**{len(free)} candidates (more than 2**24); use fewer bins or fewer exits"
        )
    # For each enumerated exit k and cell, which free variable the cell reads.
    var_of = np.zeros((max(m - 1, 1), n_cells), dtype=np.int64)
    index = {entry: j for j, entry in enumerate(free)}
    for k in range(m - 1):
        var_of[k] = [index[(k, int(b))] for b in cells[:, k]]

    best_value, best_code = -np.inf, 0
    for start in range(0, n_candidates, _CHUNK):
        codes = np.arange(start, min(start + _CHUNK, n_candidates), dtype=np.int64)
        bits = (codes[:, None] >> np.arange(len(free))[None, :]) & 1  # (P, free)
        value, _ = _values(bits, var_of, early_sum, exit_sum, final_sum, m)
        j = int(np.argmax(value))
        if value[j] > best_value:
            best_value, best_code = float(value[j]), int(codes[j])

    # Rebuild the winning table.
    bits = (np.array([best_code])[:, None] >> np.arange(len(free))[None, :]) & 1
    _, last_row = _values(bits, var_of, early_sum, exit_sum, final_sum, m)
    actions = np.zeros((m, n_bins), dtype=np.int64)
    seen = np.zeros((m, n_bins), dtype=bool)
    for j, (k, b) in enumerate(free):
        actions[k, b] = bits[0, j]
        seen[k, b] = True
    reached = _reach(bits, var_of, m)[0]
    reached_counts = np.zeros(n_bins)
    np.add.at(reached_counts, last_bin, reached[cell_of])
    actions[m - 1] = last_row[0]
    seen[m - 1] = reached_counts > 0
    actions = fill_unseen_bins(actions, seen)
    policy = TablePolicy(actions, name="exact-optimum" if gamma == 1.0 else f"exact-optimum-gamma{gamma:g}")
    return ExactOptimum(policy=policy, mean_return=best_value / n_samples, n_candidates=n_candidates)


def _reach(bits: NDArray[np.int64], var_of: NDArray[np.int64], m: int) -> NDArray[np.float64]:
    """(P, cells): 1 where a cell continues through every enumerated exit under each candidate."""
    reach = np.ones((bits.shape[0], var_of.shape[1]))
    for k in range(m - 1):
        reach *= 1 - bits[:, var_of[k]]
    return reach


def _values(
    bits: NDArray[np.int64],
    var_of: NDArray[np.int64],
    early_sum: NDArray[np.float64],
    exit_sum: NDArray[np.float64],
    final_sum: NDArray[np.float64],
    m: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Total return of each candidate (P,) and its closed-form last-exit row (P, B)."""
    still = np.ones((bits.shape[0], var_of.shape[1]))
    value = np.zeros(bits.shape[0])
    for k in range(m - 1):
        stop = bits[:, var_of[k]] * still  # cells that end at exit k
        value += stop @ early_sum[:, k]
        still = still - stop
    exit_total = still @ exit_sum  # (P, B): reaching samples' reward if the last exit EXITs
    final_total = still @ final_sum  # ... and if they CONTINUE to the final head
    last_row = (exit_total >= final_total).astype(np.int64)  # ties: EXIT (it costs less)
    value += np.maximum(exit_total, final_total).sum(axis=1)
    return value, last_row


def describe(result: ExactOptimum) -> dict[str, Any]:
    """JSON-able summary: mean return, candidates searched and implied thresholds."""
    return {
        "mean_return": result.mean_return,
        "n_candidates": result.n_candidates,
        "thresholds": result.policy.thresholds(),
    }
