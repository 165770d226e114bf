"""Reference policies (spec §6): thresholds, fixed exits, random and the hindsight oracle.

=================== ===================================================================
name                policy
=================== ===================================================================
``always-final``    never exit early (the plain network's accuracy, the most cost)
``always-exit-K``   always exit at early exit K (1-based: ``always-exit-1`` is exit1)
``random``          EXIT with probability 1/2 at every early exit (seeded)
``cfg-T1-T2``       the paper's "Cfg T1/T2": exit at exit1 if confidence >= T1, else at
                    exit2 if >= T2, else final; ``cfg-0.2-0.4`` and ``cfg-0.6-0.7`` are listed
``static-threshold`` the best per-exit thresholds on a grid of multiples of 1/B, tuned on
                    ``train`` (the mean return there), evaluated wherever it is run
``exact-optimum``   the best (k, b) -> action table on ``train`` (:mod:`agents.references.exact_optimum`)
``exact-optimum-    the best table on ``train`` for the return discounted by gamma per step
gammaG``            (``exact-optimum-gamma0.9`` is listed): what the paper's Q-learner
                    (gamma = 0.9) is asked to find, evaluated on the undiscounted return
``oracle``          hindsight oracle: per sample the exit with the highest reward, knowing
                    the label. No policy can earn more on any sample: an upper bound
=================== ===================================================================

Thresholds act on the observation, i.e. on confidence bins: "EXIT at exit k iff
confidence >= theta_k" is the table ``pi[k, b] = 1 iff b / B >= theta_k``,
which is exact when ``theta_k`` is a multiple of 1/B (as every threshold here
is with the default B = 10).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import EnvConfig
from agents.policy import Policy, TablePolicy, decide_exits, end_rewards
from sparq_gym.envs.core import Action, ExitTables
from sparq_gym.envs.decisions import DecisionTables

__all__ = [
    "BASELINE_NAMES",
    "PAPER_CONFIGS",
    "HindsightOracle",
    "RandomPolicy",
    "always_exit_policy",
    "make_baseline",
    "mean_return",
    "threshold_policy",
    "tune_static_thresholds",
]

PAPER_CONFIGS: dict[str, tuple[float, float]] = {"cfg-0.2-0.4": (0.2, 0.4), "cfg-0.6-0.7": (0.6, 0.7)}
"""The paper's two QDSNN configurations (Table 1): thresholds at exit1 / exit2."""

BASELINE_NAMES: tuple[str, ...] = (
    "always-final",
    "always-exit-1",
    "always-exit-2",
    "random",
    *PAPER_CONFIGS,
    "static-threshold",
    "exact-optimum",
    "exact-optimum-gamma0.9",
    "oracle",
)
"""Baseline names accepted by :func:`make_baseline` (``cfg-T1-T2`` and ``always-exit-K`` in general)."""


def threshold_policy(thresholds: Sequence[float | None], n_bins: int, name: str | None = None) -> TablePolicy:
    """The table of "EXIT at exit k iff confidence >= thresholds[k]" (``None``: never exit there).

    Bin b holds confidences in ``[b/B, (b+1)/B)``, so the rule exits in bin b
    when ``b / B >= theta_k`` (with a 1e-9 tolerance for float thresholds).
    """
    n_early = len(thresholds)
    bin_floor = np.arange(n_bins) / n_bins
    actions = np.zeros((n_early, n_bins), dtype=np.int64)
    for k, theta in enumerate(thresholds):
        if theta is not None:
            actions[k] = bin_floor >= float(theta) - 1e-9
    label = name or "thresholds-" + "/".join("never" if t is None else f"{t:g}" for t in thresholds)
    return TablePolicy(actions, name=label)


def always_exit_policy(exit_index: int | None, n_early_exits: int, n_bins: int) -> TablePolicy:
    """Always exit at early exit ``exit_index`` (0-based); ``None`` means always the final head."""
    actions = np.zeros((n_early_exits, n_bins), dtype=np.int64)
    if exit_index is None:
        return TablePolicy(actions, name="always-final")
    if not 0 <= exit_index < n_early_exits:
        raise ValueError(f"early exit must lie in 1..{n_early_exits} (1-based), got {exit_index + 1}")
    actions[exit_index] = 1
    return TablePolicy(actions, name=f"always-exit-{exit_index + 1}")


class RandomPolicy:
    """EXIT with probability ``p_exit``, else a uniformly random valid other action (CONTINUE in v0,
    CONTINUE or WAIT in depth x time), from a private seeded generator.

    :param seed: seed of the generator (the global RNG is never used).
    :param p_exit: probability of EXIT.
    """

    obs_type = "multidiscrete"

    def __init__(self, seed: int = 0, p_exit: float = 0.5) -> None:
        self.rng = np.random.default_rng(seed)
        self.p_exit = float(p_exit)
        self.name = "random"

    def act(self, observation: Any) -> int:
        """A random action (v0: EXIT or CONTINUE)."""
        return int(self.rng.random() < self.p_exit)

    def act_batch(
        self, observations: NDArray[Any], action_masks: NDArray[np.bool_] | None = None
    ) -> NDArray[np.int64]:
        """One random action per observation row, among the valid ones of ``action_masks``."""
        exits = self.rng.random(len(observations)) < self.p_exit
        if action_masks is None or action_masks.shape[1] == 2:
            return exits.astype(np.int64)
        others = action_masks.copy()
        others[:, Action.EXIT] = False
        n_others = others.sum(axis=1)
        pick = np.floor(self.rng.random(len(observations)) * np.maximum(n_others, 1)).astype(np.int64)
        ranks = np.cumsum(others, axis=1) - 1  # the j-th valid other action has rank j
        other = np.argmax(others & (ranks == pick[:, None]), axis=1)
        return np.where(exits | (n_others == 0), int(Action.EXIT), other).astype(np.int64)


class HindsightOracle:
    """Per sample, the place with the highest reward, chosen knowing the label (an upper bound).

    Any policy ends each sample at some place (v0: an exit; depth x time: a decision
    point), so its reward on that sample is at most the oracle's; hence the oracle's mean
    return bounds every policy's on the same samples. Ties go to the first place (the
    cheapest exit in v0).
    """

    obs_type = "multidiscrete"
    name = "oracle"

    def choose_places(self, decisions: DecisionTables) -> NDArray[np.int64]:
        """The best place of every sample of ``decisions``."""
        return np.argmax(decisions.place_reward, axis=1).astype(np.int64)

    def act(self, observation: Any) -> int:
        """The oracle needs the label; it cannot act on an observation alone."""
        raise TypeError("the hindsight oracle chooses per sample from the tables (choose_places)")


def tune_static_thresholds(tables: ExitTables, n_bins: int) -> tuple[TablePolicy, float]:
    """Best per-exit thresholds ``theta_k in {0, 1/B, ..., 1}`` by mean return on ``tables``.

    ``theta_k = 1`` never exits at k. Exhaustive over the ``(B+1)**(E-1)``
    grid; ties keep the first combination in lexicographic order. Returns the
    policy and its mean return on ``tables`` (the ``train`` split).
    """
    rewards = end_rewards(tables)
    grid = [j / n_bins for j in range(n_bins + 1)]
    best: tuple[float, TablePolicy | None] = (-np.inf, None)
    for combo in itertools.product(grid, repeat=tables.n_early_exits):
        policy = threshold_policy(combo, n_bins)
        exits = policy.choose_exits(tables)
        value = float(rewards[np.arange(tables.n_samples), exits].mean())
        if value > best[0]:
            best = (value, policy)
    assert best[1] is not None
    policy = best[1]
    policy.name = "static-threshold"
    return policy, best[0]


def _parse_cfg(name: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in name.removeprefix("cfg-").split("-"))
    except ValueError as err:
        raise ValueError(f"policy {name!r}: expected cfg-T1-T2 with numeric thresholds") from err


def make_baseline(name: str, config: EnvConfig, *, seed: int = 0) -> Policy:
    """Build the baseline ``name`` for the environment ``config`` (:class:`agents.common.EnvConfig`).

    Tuned baselines (``static-threshold``, ``exact-optimum``) are fitted on
    ``config``'s ``train`` split.
    """
    n_bins = int(config.settings.n_bins)
    if name == "oracle":
        return HindsightOracle()
    if name == "random":
        return RandomPolicy(seed=seed)
    if name == "static-threshold":
        return tune_static_thresholds(config.tables("train"), n_bins)[0]
    if name == "exact-optimum" or name.startswith("exact-optimum-gamma"):
        from agents.references.exact_optimum import solve_exact_optimum

        gamma = 1.0
        if name != "exact-optimum":
            try:
                gamma = float(name.removeprefix("exact-optimum-gamma"))
            except ValueError as err:
                raise ValueError(f"policy {name!r}: expected exact-optimum-gammaG with G in (0, 1]") from err
        return solve_exact_optimum(config.tables("train"), n_bins, gamma=gamma).policy
    n_early = config.tables("train").n_early_exits
    if name == "always-final":
        return always_exit_policy(None, n_early, n_bins)
    if name.startswith("always-exit-"):
        try:
            k = int(name.removeprefix("always-exit-"))
        except ValueError as err:
            raise ValueError(f"policy {name!r}: expected always-exit-K with K in 1..{n_early}") from err
        return always_exit_policy(k - 1, n_early, n_bins)
    if name.startswith("cfg-"):
        thresholds = _parse_cfg(name)
        if len(thresholds) != n_early:
            raise ValueError(f"policy {name!r}: {len(thresholds)} thresholds for {n_early} early exits")
        return threshold_policy(thresholds, n_bins, name=name)
    raise ValueError(f"unknown baseline {name!r}; expected one of {list(BASELINE_NAMES)}")


def mean_return(policy: Policy, tables: ExitTables) -> float:
    """Mean return of ``policy`` over every sample of ``tables`` (one episode each)."""
    exits = decide_exits(policy, tables)
    return float(end_rewards(tables)[np.arange(tables.n_samples), exits].mean())
