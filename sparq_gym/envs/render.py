"""What ``render()`` shows of an early-exit episode: a text line (``"ansi"``) or a frame (``"rgb_array"``).

The environment hands over where the episode stands (:class:`RenderView`, :class:`GridView`);
the drawing is numpy, the text Pillow's default font (a few milliseconds a frame), so
Gymnasium's ``RecordVideo`` films episodes. A frame shows only what the agent has seen.

The ``rgb_array`` frame (``FRAME_HEIGHT`` x ``FRAME_WIDTH`` x 3, ``uint8``), top to bottom:

- the id and split, the image's index, the step and the action just taken;
- v0: one bar per head (final last), its height the head's confidence on this image, with
  the confidence and the class predicted above it and the head's name below: blue for heads
  passed, orange for the head the agent is at; a head not reached yet is an empty grey
  outline with no numbers (the agent has not seen it); when the episode has ended the head
  used is green (right) or red (wrong). Thin grey lines mark the confidence-bin edges;
- depth x time: the (head, timestep) grid, a cell visited filled to its confidence with the
  confidence and class predicted, the path joining the cells in the order visited, cells not
  visited empty outlines;
- the cost so far in numbers and as a purple bar whose tick is the plain network's cost (a
  path through every head may pass it);
- at the end, the answer, the label, right or wrong and the reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FRAME_HEIGHT", "FRAME_WIDTH", "FrameLabels", "GridView", "RenderView", "exit_status", "grid_path",
    "render_ansi", "render_grid", "render_rgb", "sample_image", "with_reward",
]

FRAME_HEIGHT, FRAME_WIDTH = 256, 256
_PLOT_TOP, _PLOT_BOTTOM = 46, 180  # the bars or the grid; text above and below
_PLOT_RIGHT = FRAME_WIDTH - 66  # the input image (or its placeholder) sits to the right of the plot
_IMAGE = 56  # its side in pixels
_TEXT = (30, 30, 30)

TextLine = tuple[int, int, str, tuple[int, ...]]
"""One line of text on a frame: x, y, the text and its colour."""
_BACKGROUND = (255, 255, 255)
_PASSED, _CURRENT, _AHEAD = (66, 114, 196), (237, 125, 49), (215, 215, 215)
_RIGHT, _WRONG = (84, 170, 80), (214, 64, 64)
_GRID, _COST, _TICK = (235, 235, 235), (128, 80, 170), (40, 40, 40)


@dataclass(frozen=True, kw_only=True)
class FrameLabels:
    """What a frame says beside the drawing (keyword arguments of both views).

    :param title: the frame's first line (the id and the split).
    :param head_names: the heads' names (final last).
    :param cost: what the cost counts (the environment's ``cost``).
    :param image: the input image, (H, W, 3) ``uint8`` (``None``: its dataset is not local).
    """

    title: str = ""
    head_names: tuple[str, ...] = ()
    cost: str = ""
    image: NDArray[np.uint8] | None = None


@dataclass(frozen=True)
class RenderView(FrameLabels):
    """Where an episode stands, for drawing (and :class:`FrameLabels`).

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


def _write(frame: NDArray[np.uint8], lines: list[TextLine]) -> None:
    """Write ``(x, y, text, colour)`` lines onto ``frame`` (Pillow's default font, 10 px)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    font = _font(ImageFont)
    for x, y, text, colour in lines:
        draw.text((x, y), text, fill=tuple(colour), font=font)
    frame[:] = np.asarray(image)


_FONTS: dict[str, Any] = {}


def _font(image_font: Any) -> Any:
    """Pillow's default font at 10 px, made once."""
    if "default" not in _FONTS:
        _FONTS["default"] = image_font.load_default(size=10)
    return _FONTS["default"]


def _amount(value: float) -> str:
    """A count or an energy in three significant digits: 12.3k, 4.56M, 7.8e-05."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


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
    top, bottom, left, right = _PLOT_TOP, _PLOT_BOTTOM, 12, _PLOT_RIGHT
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
    _cost_bar(frame, float(t.cost[sample, reached]), float(t.full_cost[sample]), left, FRAME_WIDTH - 12)
    names = view.head_names or (*(f"exit{e + 1}" for e in range(n_exits - 1)), "final")
    lines: list[TextLine] = [(4, 2, f"{view.title}  image {sample}", _TEXT)]
    for e in range(n_exits):
        x = left + e * slot + slot // 6
        lines.append((x, bottom + 3, names[e], _TEXT))
        if e <= reached:  # what the agent has seen: confidence and the class predicted
            lines.append((x, top - 12, f"{t.confidence[sample, e]:.2f} -> {t.predictions[sample, e]}", _TEXT))
    lines.append((4, 16, exit_status(reached, ended and view.last is not None, n_exits, names), _TEXT))
    lines += _cost_and_verdict(view.last, float(t.cost[sample, reached]), float(t.full_cost[sample]),
                               view.cost, int(t.labels[sample]))
    lines += _draw_image(frame, view.image)
    _write(frame, lines)
    return frame


def exit_status(reached: int, ended: bool, n_exits: int, names: tuple[str, ...]) -> str:
    """v0's status line: the decisions taken so far (E-1 at most) and the last one."""
    if not ended:
        return f"step {reached}: " + ("start" if reached == 0 else "CONTINUE")
    if reached == n_exits - 1:
        return f"step {n_exits - 1}: CONTINUE to the final head"
    return f"step {reached + 1}: EXIT at {names[reached]}"


def _cost_bar(frame: NDArray[np.uint8], cost: float, full: float, left: int, right: int) -> None:
    """The cost so far as a purple bar; a tick at the plain network's cost (80 % of the width)."""
    full_x = left + round((right - left) / 1.25)
    cost_x = left + round(min(cost / full, 1.25) * (full_x - left))
    _fill(frame, (_PLOT_BOTTOM + 30, _PLOT_BOTTOM + 42), (left, cost_x), _COST)
    _fill(frame, (_PLOT_BOTTOM + 27, _PLOT_BOTTOM + 45), (full_x, full_x + 2), _TICK)


def _cost_and_verdict(
    last: dict[str, Any] | None, cost: float, full: float, counted: str, label: int
) -> list[TextLine]:
    """The text under the plot: the cost in numbers, then the answer, label, verdict and reward."""
    share = f"({100 * cost / full:.0f} %)"
    text = f"cost {_amount(cost)} / {_amount(full)} {counted} {share}"
    lines: list[TextLine] = [(4, _PLOT_BOTTOM + 16, text, _TEXT)]
    if last is None:
        lines.append((4, _PLOT_BOTTOM + 50, "deciding ...", _TEXT))
        return lines
    right = bool(last["correct"])
    verdict = f"answer {last['prediction']}, label {label}: {'right' if right else 'wrong'}"
    reward = last.get("reward")
    reward_text = "" if reward is None else f", reward {reward:+.3f}"
    lines.append((4, _PLOT_BOTTOM + 50, verdict + reward_text, _RIGHT if right else _WRONG))
    return lines


@dataclass(frozen=True)
class GridView(FrameLabels):
    """Where a depth x time episode stands, for drawing (and :class:`FrameLabels`).

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
    top, bottom, left, right = _PLOT_TOP, _PLOT_BOTTOM, 40, _PLOT_RIGHT
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
    _cost_bar(frame, float(t.cost[sample, current]), float(t.full_cost[sample]), 12, FRAME_WIDTH - 12)
    names = view.head_names or (*(f"exit{e + 1}" for e in range(n_exits - 1)), "final")
    lines: list[TextLine] = [(4, 2, f"{view.title}  image {sample}", _TEXT)]
    lines += [(4, top + k * cell_h + cell_h // 2 - 6, names[k], _TEXT) for k in range(n_exits)]
    lines += [(left + tau * cell_w + 4, top - 11, f"t={tau + 1}", _TEXT) for tau in range(n_timesteps)]
    for k, tau in view.path:  # what the agent has seen: confidence and class predicted
        lines.append((left + tau * cell_w + 5, top + k * cell_h + cell_h - 16,
                      f"{t.confidence[sample, k, tau]:.2f}>{t.predictions[sample, k, tau]}", _TEXT))
    if view.last is not None:
        action = "EXIT" + (" (masked action taken as EXIT)" if view.last.get("invalid_action") else "")
    elif len(view.path) == 1:
        action = "start"
    else:
        action = "WAIT" if view.path[-1][0] == view.path[-2][0] else "CONTINUE"
    lines.append((4, 16, f"step {len(view.path) - 1 + int(view.last is not None)}: {action}", _TEXT))
    lines += _cost_and_verdict(view.last, float(t.cost[sample, current]), float(t.full_cost[sample]),
                               view.cost, int(t.labels[sample]))
    lines += _draw_image(frame, view.image)
    _write(frame, lines)
    return frame


def with_reward(last: dict[str, Any] | None, alpha: float) -> dict[str, Any] | None:
    """The final info with the episode's reward (v0's rule, both families): ``+1 + alpha * savings``
    if right, ``-1`` if wrong."""
    if last is None:
        return None
    reward = 1.0 + alpha * float(last["savings"]) if last["correct"] else -1.0
    return {**last, "reward": reward}


def _draw_image(
    frame: NDArray[np.uint8], image: NDArray[np.uint8] | None
) -> list[TextLine]:
    """The input image, scaled to ``_IMAGE`` pixels (nearest neighbour), right of the plot; a
    grey outline saying "no image" when its dataset is not local. Returns the text to write."""
    r0, c0 = _PLOT_TOP, FRAME_WIDTH - 8 - _IMAGE
    if image is None:
        _outline(frame, (r0, r0 + _IMAGE), (c0, c0 + _IMAGE), _AHEAD)
        return [(c0 + 8, r0 + 16, "no image", _TEXT), (c0 + 6, r0 + 28, "(no data)", _TEXT)]
    rows = np.arange(_IMAGE) * image.shape[0] // _IMAGE
    cols = np.arange(_IMAGE) * image.shape[1] // _IMAGE
    frame[r0 : r0 + _IMAGE, c0 : c0 + _IMAGE] = image[rows][:, cols]
    return [(c0, r0 + _IMAGE + 2, "input", _TEXT)]


def sample_image(traces: Any, sample: int, cache: dict[str, Any]) -> NDArray[np.uint8] | None:
    """The input image of the traces' sample ``sample``, (H, W, 3) ``uint8``, where its dataset is
    local (:func:`sparq_gym.data.splits.load_split`; the manifest's ``dataset`` and its split's
    source, the trace's ``sample_ids`` indexing it), else ``None``. An image whose label is not
    the trace's is not shown. ``cache`` keeps the loaded split (per environment)."""
    meta = traces.meta
    provenance = (meta.get("split_provenance") or {}).get(traces.split, {})
    source = (provenance.get("data") or {}).get("source") if isinstance(provenance, dict) else None
    dataset = meta.get("dataset")
    if not isinstance(dataset, str) or source not in ("train", "test"):
        return None
    if "split" not in cache:
        from sparq_gym.data.splits import load_split

        try:
            cache["split"] = load_split(dataset, "test" if source == "test" else "train_full")
        except (OSError, KeyError, ValueError):  # no local data (or not this dataset's files)
            cache["split"] = None
    split = cache["split"]
    index = int(traces.sample_ids[sample])
    if split is None or not 0 <= index < split.labels.shape[0]:
        return None
    if split.labels[index] != traces.labels[sample]:  # not the image the trace was extracted from
        return None
    image = np.moveaxis(split.images[index], 0, -1)  # (C, H, W) -> (H, W, C)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
