"""What ``render()`` shows of an early-exit episode: a text line (``"ansi"``) or a frame (``"rgb_array"``).

The environment hands over where the episode stands (:class:`RenderView`); the
drawing is plain numpy (no plotting library), a few microseconds a frame, so
Gymnasium's ``RecordVideo`` can film thousands of episodes.

The ``rgb_array`` frame (``FRAME_HEIGHT`` x ``FRAME_WIDTH`` x 3, ``uint8``):

- one bar per head (final last), its height the head's confidence on this image:
  blue for heads passed, orange for the head the agent is at; a head not reached
  yet is an empty grey outline (the agent has not seen its confidence); when the
  episode has ended the head used is green (right) or red (wrong) and the heads
  passed stay blue;
- thin grey lines at the confidence-bin edges (``n_bins``);
- at the bottom, the cost so far as a purple bar whose full width is the cost of
  the plain network (a tick marks it; a path through every head may exceed it).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FRAME_HEIGHT", "FRAME_WIDTH", "GridView", "RenderView", "grid_path", "render_ansi", "render_grid",
           "render_rgb"]

FRAME_HEIGHT, FRAME_WIDTH = 192, 256
_BACKGROUND = (255, 255, 255)
_PASSED, _CURRENT, _AHEAD = (66, 114, 196), (237, 125, 49), (215, 215, 215)
_RIGHT, _WRONG = (84, 170, 80), (214, 64, 64)
_GRID, _COST, _TICK = (235, 235, 235), (128, 80, 170), (40, 40, 40)


@dataclass(frozen=True)
class RenderView:
    """Where an episode stands, for drawing.

    :param tables: the environment's :class:`~sparq_gym.envs.core.ExitTables`.
    :param n_bins: the confidence bins B.
    :param sample: the image of the episode (``None`` before the first ``reset``).
    :param exit_index: the early exit the agent is at (``None`` once the episode has ended).
    :param last: the final ``info`` of the episode that ended (``None`` while it runs).
    """

    tables: Any
    n_bins: int
    sample: int | None
    exit_index: int | None
    last: dict[str, Any] | None


def render_ansi(view: RenderView) -> str:
    """One text line: the exit, its confidence and the cost so far, or the answer once it ended."""
    if view.sample is None:
        return "no episode yet: call reset()"
    t = view.tables
    if view.last is not None:
        i = view.last
        verdict = "right" if i["correct"] else "wrong"
        return (
            f"sample {i['sample_index']}: ended at exit {i['exit']} predicting {i['prediction']} "
            f"(label {i['label']}, {verdict}), cost {i['cost']:.4g}, savings {i['savings']:.3f}"
        )
    sample, k = view.sample, int(view.exit_index or 0)
    return (
        f"sample {sample}: at exit {k}, confidence {t.confidence[sample, k]:.3f} "
        f"(bin {t.bins[sample, k]} of {view.n_bins}), cost so far {t.cost[sample, k]:.4g}"
    )


def _fill(
    frame: NDArray[np.uint8], rows: tuple[int, int], cols: tuple[int, int], color: tuple[int, ...]
) -> None:
    frame[max(rows[0], 0) : max(rows[1], 0), max(cols[0], 0) : max(cols[1], 0)] = color


def _outline(
    frame: NDArray[np.uint8], rows: tuple[int, int], cols: tuple[int, int], color: tuple[int, ...]
) -> None:
    """A one-pixel rectangle outline."""
    (r0, r1), (c0, c1) = rows, cols
    frame[r0, c0:c1] = frame[r1 - 1, c0:c1] = color
    frame[r0:r1, c0] = frame[r0:r1, c1 - 1] = color


def render_rgb(view: RenderView) -> NDArray[np.uint8]:
    """The frame described in the module docstring; blank before the first ``reset``."""
    frame = np.empty((FRAME_HEIGHT, FRAME_WIDTH, 3), dtype=np.uint8)
    frame[:] = _BACKGROUND
    if view.sample is None:
        return frame
    t, sample = view.tables, view.sample
    n_exits = int(t.confidence.shape[1])
    top, bottom, left, right = 8, FRAME_HEIGHT - 40, 12, FRAME_WIDTH - 12
    for b in range(1, view.n_bins):  # confidence-bin edges
        y = bottom - round(b / view.n_bins * (bottom - top))
        frame[y, left:right] = _GRID
    ended = view.last is not None
    reached = int(view.last["exit"]) if ended and view.last is not None else int(view.exit_index or 0)
    slot = (right - left) // n_exits
    for e in range(n_exits):
        if e < reached:
            color = _PASSED
        elif e == reached:
            correct = bool(view.last["correct"]) if view.last is not None else False
            color = (_RIGHT if correct else _WRONG) if ended else _CURRENT
        else:  # not reached: an empty outline, its confidence unseen
            x0 = left + e * slot + slot // 6
            _outline(frame, (top, bottom), (x0, x0 + slot * 2 // 3), _AHEAD)
            continue
        height = round(float(t.confidence[sample, e]) * (bottom - top))
        x0 = left + e * slot + slot // 6
        _fill(frame, (bottom - height, bottom), (x0, x0 + slot * 2 // 3), color)
    frame[bottom, left:right] = _TICK  # axis
    cost_so_far = float(t.cost[sample, reached]) / float(t.full_cost[sample])
    width = right - left
    full_x = left + round(width / 1.25)  # the plain network's cost sits at 80 % of the bar
    cost_x = left + round(min(cost_so_far, 1.25) * (full_x - left))
    _fill(frame, (FRAME_HEIGHT - 26, FRAME_HEIGHT - 12), (left, cost_x), _COST)
    _fill(frame, (FRAME_HEIGHT - 30, FRAME_HEIGHT - 8), (full_x, full_x + 2), _TICK)
    return frame


@dataclass(frozen=True)
class GridView:
    """Where a depth x time episode stands, for drawing.

    :param tables: the environment's :class:`~sparq_gym.envs.depth_time_core.DepthTimeTables`.
    :param sample: the image of the episode (``None`` before the first ``reset``).
    :param state: the decision state the episode is at, or ended at.
    :param path: the (head, timestep index) cells visited so far, in order (the state's history
        determines them: :func:`grid_path`).
    :param last: the final ``info`` of the episode that ended (``None`` while it runs).
    """

    tables: Any
    sample: int | None
    state: int
    path: tuple[tuple[int, int], ...]
    last: dict[str, Any] | None


def grid_path(state: tuple[int, int, tuple[int, ...]]) -> tuple[tuple[int, int], ...]:
    """The cells an episode visited to reach ``state = (k, tau, history)`` (the form of
    :func:`~sparq_gym.envs.depth_time_core.enumerate_states`): head j from the timestep head
    j-1 was left at to the one it was left at itself (WAITs), then one CONTINUE to head j+1."""
    k, tau, history = state
    ends = (*history, tau)
    cells: list[tuple[int, int]] = []
    start = 0
    for head, end in zip(range(k + 1), ends):
        cells.extend((head, t) for t in range(start, end + 1))
        start = end
    return tuple(cells)


def render_grid(view: GridView) -> NDArray[np.uint8]:
    """The depth x time frame: a (head, timestep) grid, heads as rows (final last) and timesteps as
    columns. A cell the episode has visited is filled to its confidence (blue; the current one
    orange; at the end, the answering one green if right, red if wrong), a cell not visited is an
    empty outline (its confidence unseen); the path joins the visited cells in order. Below, the
    cost so far as a purple bar whose tick is the plain network's cost. Blank before ``reset``."""
    frame = np.empty((FRAME_HEIGHT, FRAME_WIDTH, 3), dtype=np.uint8)
    frame[:] = _BACKGROUND
    if view.sample is None or not view.path:
        return frame
    t, sample, current = view.tables, view.sample, view.state
    n_exits, n_timesteps = int(t.n_exits), int(t.n_timesteps)
    top, bottom, left, right = 8, FRAME_HEIGHT - 40, 12, FRAME_WIDTH - 12
    cell_h, cell_w = (bottom - top) // n_exits, (right - left) // n_timesteps
    visited = set(view.path)
    here = view.path[-1]
    for k in range(n_exits):
        for tau in range(n_timesteps):
            r0, c0 = top + k * cell_h + 2, left + tau * cell_w + 2
            r1, c1 = r0 + cell_h - 4, c0 + cell_w - 4
            if (k, tau) not in visited:
                _outline(frame, (r0, r1), (c0, c1), _AHEAD)
                continue
            if (k, tau) == here:
                correct = bool(view.last["correct"]) if view.last is not None else False
                color = (_RIGHT if correct else _WRONG) if view.last is not None else _CURRENT
            else:
                color = _PASSED
            _outline(frame, (r0, r1), (c0, c1), color)
            filled = round(float(t.confidence[sample, k, tau]) * (c1 - c0))
            _fill(frame, (r0, r1), (c0, c0 + filled), color)
    centres = [(top + k * cell_h + cell_h // 2, left + tau * cell_w + cell_w // 2) for k, tau in view.path]
    for (ra, ca), (rb, cb) in pairwise(centres):  # the path: straight segments between cells
        steps = max(abs(rb - ra), abs(cb - ca), 1)
        rows = np.linspace(ra, rb, steps + 1).round().astype(int)
        cols = np.linspace(ca, cb, steps + 1).round().astype(int)
        frame[rows, cols] = _TICK
    cost_so_far = float(t.cost[sample, current]) / float(t.full_cost[sample])
    width = right - left
    full_x = left + round(width / 1.25)  # the plain network's cost sits at 80 % of the bar
    cost_x = left + round(min(cost_so_far, 1.25) * (full_x - left))
    _fill(frame, (FRAME_HEIGHT - 26, FRAME_HEIGHT - 12), (left, cost_x), _COST)
    _fill(frame, (FRAME_HEIGHT - 30, FRAME_HEIGHT - 8), (full_x, full_x + 2), _TICK)
    return frame
