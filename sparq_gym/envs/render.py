"""What ``render()`` shows of an early-exit episode: a text line (``"ansi"``) or a frame (``"rgb_array"``).

The environment hands over where the episode stands (:class:`RenderView`); the
drawing is plain numpy (no plotting library), a few microseconds a frame, so
Gymnasium's ``RecordVideo`` can film thousands of episodes.

The ``rgb_array`` frame (``FRAME_HEIGHT`` x ``FRAME_WIDTH`` x 3, ``uint8``):

- one bar per head (final last), its height the head's confidence on this image:
  blue for heads passed, orange for the head the agent is at, light grey for
  heads not reached yet; when the episode has ended the head used is green
  (right) or red (wrong) and the heads passed stay blue;
- thin grey lines at the confidence-bin edges (``n_bins``);
- at the bottom, the cost so far as a purple bar whose full width is the cost of
  the plain network (a tick marks it; a path through every head may exceed it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FRAME_HEIGHT", "FRAME_WIDTH", "RenderView", "render_ansi", "render_rgb"]

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
        else:
            color = _AHEAD
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
