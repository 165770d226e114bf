"""TensorBoard logs of a training run: SB3's own logger for DQN and PPO, the same scalars for Q-learning.

``sparq train dqn|ppo --tensorboard DIR`` hands ``DIR`` to SB3 (``tensorboard_log``),
which writes ``DIR/<algo>_<n>/``. ``sparq train q-learning --tensorboard DIR`` writes
``DIR/q-learning_<n>/`` from the run's learning curve under SB3's tag names, so the
three agents share one TensorBoard view:

=============================== ============================================ =========================
tag                             Q-learning                                   SB3
=============================== ============================================ =========================
``rollout/ep_rew_mean``         mean training return since the last          mean return of the last
                                evaluation                                   100 episodes (Monitor)
``eval/mean_reward``            validation return (greedy table)             ``EvalCallback``'s
``rollout/exploration_rate``    epsilon                                      DQN's epsilon
=============================== ============================================ =========================

The x axis is environment steps (decisions) for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CURVE_TAGS", "next_run_dir", "write_curve"]

CURVE_TAGS: dict[str, str] = {
    "train_return": "rollout/ep_rew_mean",
    "validation_return": "eval/mean_reward",
    "epsilon": "rollout/exploration_rate",
}
"""Learning-curve key -> TensorBoard tag (SB3's names)."""


def next_run_dir(root: str | Path, name: str) -> Path:
    """``root/<name>_<n>`` with the first n >= 1 not taken (SB3's naming of its runs)."""
    root = Path(root)
    n = 1
    while (root / f"{name}_{n}").exists():
        n += 1
    return root / f"{name}_{n}"


def write_curve(
    root: str | Path, name: str, curve: Sequence[dict[str, Any]], step_key: str = "steps"
) -> Path:
    """Write a learning curve's scalars (:data:`CURVE_TAGS`) as a TensorBoard run; return its folder.

    :param root: the ``--tensorboard`` directory.
    :param name: run name (``q-learning``); the folder is :func:`next_run_dir`'s.
    :param curve: one record per evaluation, with ``step_key`` and the keys of :data:`CURVE_TAGS`.
    :param step_key: the record's x value (environment steps).
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch's writer needs the tensorboard package
        raise ImportError("--tensorboard needs `pip install sparq_gym[tensorboard]`") from err

    directory = next_run_dir(root, name)
    writer = SummaryWriter(log_dir=str(directory))
    try:
        for point in curve:
            for key, tag in CURVE_TAGS.items():
                if key in point:
                    writer.add_scalar(tag, float(point[key]), int(point[step_key]))
    finally:
        writer.close()
    return directory
