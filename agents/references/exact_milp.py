"""The best deterministic (head, timestep, bin) -> action table on a set of traces, by MILP.

In the depth x time environment a deterministic tabular policy is a table
``pi[k, tau, b]`` in {CONTINUE, EXIT, WAIT} (valid actions only). Sample i follows
the path that its own bins select and ends where the table says EXIT. The
decision at a cell changes which samples reach later cells, and the same cell
is read on different paths (with different costs so far), so neither backward
induction nor a per-cell choice is exact. This module solves the problem exactly
as a mixed-integer linear program (scipy's HiGHS).

Formulation
-----------
*Nodes.* Samples that have read the same bins on the same path are
indistinguishable to the table up to there, so they are grouped: a node n is a
state s (head, timestep and the timesteps at which earlier heads were left)
plus the set of samples whose bins agree on every cell of the path to s,
including the current one, cell c(n) = (k, tau, b). The nodes form a tree: the
root nodes split all samples by their bin at (0, 1); a node's children through
action a split its samples by their bin at the next state's cell.

*Variables.* ``x[c, a]`` binary: the table picks action a at cell c.
``z[n, a]`` in [0, 1]: the samples of node n are at node n and take action a.

*Constraints.* ``sum_a x[c, a] = 1`` (one action per cell; masked actions have
upper bound 0); ``z[n, a] <= x[c(n), a]``; ``sum_a z[n, a] = 1`` at a root node
and ``= z[parent, a_parent]`` elsewhere. With x integral, the flow is 1 exactly
along the path each node's samples take and 0 elsewhere, so z needs no
integrality.

*Objective.* maximise ``sum_n R_n z[n, EXIT]``, with R_n the sum over the node's
samples of the reward of EXIT at its state: the total return of the table.

*Reduction.* Cells where EXIT beats every continuation at every node
(:func:`provable_exits`) are fixed to EXIT before solving: a sound cut of the search,
not of the optimum (tested against brute force).

Cells no training node reaches under the optimum are filled from the nearest
bin that is reached at the same (k, tau) (higher bins first), so the table is
defined everywhere for ``test``. A brute-force test over every table of tiny
trace sets checks the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from sparq_gym.envs.depth_time_core import DepthTimeAction, DepthTimeTables

__all__ = ["DepthTimeOptimum", "build_nodes", "solve_depth_time_optimum"]

EXIT = int(DepthTimeAction.EXIT)


@dataclass(frozen=True)
class _Nodes:
    """The node tree: per node its state, cell, parent flow variable (-1: root) and EXIT reward."""

    state: NDArray[np.int64]
    cell: NDArray[np.int64]
    parent: NDArray[np.int64]
    reward: NDArray[np.float64]


@dataclass(frozen=True)
class DepthTimeOptimum:
    """The solver's answer.

    :param actions: the table ``pi[k, tau, b]``, (E, T, B).
    :param value: mean return of the table on the traces it was solved on.
    :param n_nodes: number of sample groups in the program.
    :param status: HiGHS's message (optimal, or the time limit with the gap).
    :param optimal: whether HiGHS proved optimality.
    :param bound: HiGHS's proven upper bound on the best table's mean return (``value`` when optimal).
    """

    actions: NDArray[np.int64]
    value: float
    n_nodes: int
    status: str
    optimal: bool
    bound: float


def build_nodes(tables: DepthTimeTables) -> _Nodes:
    """Group the samples into the node tree of the module docstring (states in topological order)."""
    n_timesteps, n_bins = tables.n_timesteps, tables.n_bins
    pending: dict[int, list[tuple[NDArray[np.int64], int]]] = {0: [(np.arange(tables.n_samples), -1)]}
    state_l: list[int] = []
    cell_l: list[int] = []
    parent_l: list[int] = []
    reward_l: list[float] = []
    for s in range(tables.n_states):  # every transition goes to a later state
        k, tau = int(tables.state_head[s]), int(tables.state_time[s])
        moves = [a for a in (0, 2) if tables.valid[s, a]]
        for samples, parent in pending.pop(s, []):
            bins = tables.bins[samples, k, tau]
            order = np.argsort(bins, kind="stable")
            split = np.flatnonzero(np.diff(bins[order])) + 1
            for group in np.split(samples[order], split):
                node = len(state_l)
                state_l.append(s)
                cell_l.append((k * n_timesteps + tau) * n_bins + int(tables.bins[group[0], k, tau]))
                parent_l.append(parent)
                reward_l.append(float(tables.reward_exit[group, s].sum()))
                for a in moves:
                    pending.setdefault(int(tables.next_state[s, a]), []).append((group, node * 3 + a))
    return _Nodes(
        np.array(state_l, np.int64),
        np.array(cell_l, np.int64),
        np.array(parent_l, np.int64),
        np.array(reward_l, np.float64),
    )


def provable_exits(nodes: _Nodes, n_cells: int) -> NDArray[np.bool_]:
    """Cells where EXIT is optimal whatever the rest of the table: ``(E T B,)`` bool.

    Every sample reads a cell at most once (paths only go deeper or later), and which
    samples reach a cell depends only on cells read before it. So if at every node of a
    cell EXIT earns at least the best any continuation could (the samples' best paths
    with the table free to differ per node: an upper bound), switching that cell of an
    optimal table to EXIT loses nothing. The bound is backward induction over the node
    tree; the MILP fixes these cells to EXIT (fewer branches, same optimum).
    """
    n_nodes = nodes.state.shape[0]
    value = np.zeros(n_nodes)
    moves = np.full((n_nodes, 3), -np.inf)  # best continuation value per (node, action)
    has_parent = nodes.parent >= 0
    parent_node, parent_action = np.divmod(nodes.parent[has_parent], 3)
    for s in np.unique(nodes.state)[::-1]:  # children live at later states
        at = np.flatnonzero(nodes.state == s)
        value[at] = np.maximum(nodes.reward[at], moves[at].max(axis=1))
        child = at[has_parent[at]]
        if child.size:
            rows = np.searchsorted(np.flatnonzero(has_parent), child)
            target = (parent_node[rows], parent_action[rows])
            np.maximum.at(moves, target, 0.0)  # a reached move starts from 0, then sums its children
            np.add.at(moves, target, value[child])
    continuation = moves.max(axis=1)
    beaten = np.zeros(n_cells, dtype=np.bool_)
    np.logical_or.at(beaten, nodes.cell, nodes.reward < continuation - 1e-9)
    reached = np.zeros(n_cells, dtype=np.bool_)
    reached[nodes.cell] = True
    return reached & ~beaten


@dataclass(frozen=True)
class _Program:
    """The MILP of the module docstring: maximise ``-cost @ v`` subject to
    ``row_lower <= matrix @ v <= row_upper``, ``0 <= v <= upper``, integral where ``integrality``."""

    cost: NDArray[np.float64]
    matrix: Any
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]
    upper: NDArray[np.float64]
    integrality: NDArray[np.float64]
    n_x: int
    nodes: _Nodes
    cell_valid: NDArray[np.bool_]


def build_program(tables: DepthTimeTables) -> _Program:
    """The variables, objective and constraints of the module docstring's MILP for ``tables``."""
    nodes = build_nodes(tables)
    cell_valid = tables.decisions().cell_valid
    n_cells, n_nodes = cell_valid.shape[0], nodes.state.shape[0]
    n_x = n_cells * 3
    node_valid = tables.valid[nodes.state]
    n_vars = n_x + n_nodes * 3
    fixed = cell_valid & provable_exits(nodes, n_cells)[:, None]
    fixed[:, EXIT] = False  # at a provable-exit cell only EXIT stays open
    upper = np.concatenate([(cell_valid & ~fixed).reshape(-1), node_valid.reshape(-1)]).astype(np.float64)
    cost = np.zeros(n_vars)
    cost[n_x + np.arange(n_nodes) * 3 + EXIT] = -nodes.reward
    blocks: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    # Rows 0..n_cells-1: one action per cell, sum_a x[c, a] = 1.
    blocks.append((np.repeat(np.arange(n_cells), 3), np.arange(n_x), np.ones(n_x)))
    lower = [np.ones(n_cells)]
    upper_rows = [np.ones(n_cells)]
    offset = n_cells
    # z[n, a] - x[c(n), a] <= 0 for every valid (n, a).
    node_idx, action = np.nonzero(node_valid)
    m = node_idx.shape[0]
    link = offset + np.arange(m)
    blocks.append((link, n_x + node_idx * 3 + action, np.ones(m)))
    blocks.append((link, nodes.cell[node_idx] * 3 + action, -np.ones(m)))
    lower.append(np.full(m, -np.inf))
    upper_rows.append(np.zeros(m))
    offset += m
    # Flow: sum_a z[n, a] - z[parent] = 1 at a root, 0 elsewhere.
    flow = offset + np.arange(n_nodes)
    blocks.append((np.repeat(flow, 3), n_x + np.arange(n_nodes * 3), np.ones(n_nodes * 3)))
    has_parent = nodes.parent >= 0
    blocks.append((flow[has_parent], n_x + nodes.parent[has_parent], -np.ones(int(has_parent.sum()))))
    rhs = np.where(has_parent, 0.0, 1.0)
    lower.append(rhs)
    upper_rows.append(rhs)
    offset += n_nodes
    rows, cols, vals = (np.concatenate(part) for part in zip(*blocks))
    matrix = coo_matrix((vals, (rows, cols)), shape=(offset, n_vars)).tocsr()
    integrality = np.zeros(n_vars)
    integrality[:n_x] = 1
    return _Program(
        cost, matrix, np.concatenate(lower), np.concatenate(upper_rows), upper, integrality, n_x, nodes,
        cell_valid,
    )


def solve_depth_time_optimum(tables: DepthTimeTables, *, time_limit: float = 600.0) -> DepthTimeOptimum:
    """The best table on ``tables`` (the ``train`` split), by the MILP of the module docstring."""
    program = build_program(tables)
    nodes, cell_valid, n_x = program.nodes, program.cell_valid, program.n_x
    n_cells, n_nodes = cell_valid.shape[0], nodes.state.shape[0]
    result = milp(
        program.cost,
        integrality=program.integrality,
        bounds=Bounds(np.zeros(program.cost.shape[0]), program.upper),
        constraints=LinearConstraint(program.matrix, program.row_lower, program.row_upper),
        options={"time_limit": float(time_limit), "mip_rel_gap": 0.0},
    )
    if result.x is None:
        raise RuntimeError(f"the MILP found no solution: {result.message}")
    x = np.round(result.x[:n_x]).reshape(n_cells, 3)
    actions = np.where(cell_valid, x, -1).argmax(axis=1)
    reached = np.zeros(n_cells, dtype=np.bool_)
    reached[nodes.cell[result.x[n_x:].reshape(n_nodes, 3).sum(axis=1) > 0.5]] = True
    table = _fill_unreached(actions, reached, tables)
    optimal = bool(result.status == 0)
    value = float(-result.fun) / tables.n_samples
    dual = getattr(result, "mip_dual_bound", None)
    bound = value if optimal or dual is None else float(-dual) / tables.n_samples
    return DepthTimeOptimum(
        actions=table, value=value, n_nodes=n_nodes, status=str(result.message), optimal=optimal, bound=bound
    )


def _fill_unreached(
    actions: NDArray[np.int64], reached: NDArray[np.bool_], tables: DepthTimeTables
) -> NDArray[np.int64]:
    """The table (E, T, B), with each unreached cell copied from the nearest reached bin (higher first)."""
    e, t, b = tables.n_exits, tables.n_timesteps, tables.n_bins
    table = actions.reshape(e, t, b).copy()
    seen = reached.reshape(e, t, b)
    for k in range(e):
        for tau in range(t):
            bins = np.flatnonzero(seen[k, tau])
            if bins.size == 0:
                continue
            for bin_index in np.flatnonzero(~seen[k, tau]):
                distance = np.abs(bins - bin_index) * 2 - (bins > bin_index)
                table[k, tau, bin_index] = table[k, tau, bins[np.argmin(distance)]]
    return table
