"""The benchmark's statistics over seeds, as the RL field reports them (``rliable``).

Agarwal et al., "Deep RL at the edge of the statistical precipice" (NeurIPS
2021): the interquartile mean (IQM: the mean of the middle 50 % of the runs)
with 95 % stratified-bootstrap confidence intervals, performance profiles (the
fraction of runs scoring above tau, with bootstrap bands) and the probability
of improvement P(X > Y) (a Mann-Whitney statistic over runs, per task, then
averaged over tasks). A *run* is one seed; a *task* is one environment; the
score is the normalized score of :mod:`agents.evaluation`. Deterministic
baselines have one run, so their intervals have zero width. Every bootstrap
draws from a ``RandomState`` seeded here, so the numbers are reproducible.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "REFERENCE_AGENT",
    "ZOOM_FROM",
    "ZOOM_TO",
    "draw_performance_profile",
    "interquartile_mean",
    "probability_of_improvement",
    "profile_taus",
    "rliable_statistics",
    "score_distribution",
    "score_matrices",
]

REFERENCE_AGENT = "q-learning"
"""The agent every other one is compared with (the paper's Q-learner)."""
ZOOM_FROM, ZOOM_TO = 0.8, 1.05
"""Normalized-score thresholds of the zoomed performance profile."""


def score_matrices(
    rows: Sequence[dict[str, Any]], envs: Sequence[str], metric: str = "normalized_score"
) -> dict[str, NDArray[np.float64]]:
    """Scores of every policy as a (runs, environments) matrix, runs ordered by seed.

    A policy enters only when it has the same number of runs, all finite, on every
    environment of ``envs``.
    """
    scores: dict[str, NDArray[np.float64]] = {}
    for policy in dict.fromkeys(r["policy"] for r in rows):
        columns = []
        for env_id in envs:
            runs = sorted((r for r in rows if r["policy"] == policy and r["env_id"] == env_id),
                          key=lambda r: r["seed"])
            columns.append([float(r[metric]) for r in runs])
        if columns and all(len(c) == len(columns[0]) > 0 for c in columns):
            matrix = np.array(columns, dtype=float).T
            if np.isfinite(matrix).all():
                scores[policy] = matrix
    return scores


def interquartile_mean(scores: NDArray[np.float64]) -> float:
    """IQM: the mean of the middle 50 % of all runs x tasks (25 % cut from each end).

    The value of ``rliable.metrics.aggregate_iqm`` (scipy's ``trim_mean``; tested),
    without scipy's per-call overhead.
    """
    flat = np.sort(np.asarray(scores, dtype=float), axis=None)
    cut = int(0.25 * flat.size)
    return float(flat[cut : flat.size - cut].mean())


def probability_of_improvement(scores_x: NDArray[np.float64], scores_y: NDArray[np.float64]) -> float:
    """P(X > Y): per task, Mann-Whitney's U of X's runs over Y's (ties 1/2) / (n_x n_y), averaged.

    The value of ``rliable.metrics.probability_of_improvement`` (tested), computed by
    comparing every pair of runs at once instead of calling scipy once per task: the
    bootstrap evaluates it thousands of times.
    """
    x, y = scores_x[:, None, :], scores_y[None, :, :]
    wins = (x > y).mean(axis=(0, 1)) + 0.5 * (x == y).mean(axis=(0, 1))
    return float(np.mean(wins))


def _bootstrap(arrays: Sequence[NDArray[np.float64]], seed: int) -> Any:
    """rliable's stratified independent bootstrap over ``arrays``, drawing from a seeded generator.

    Each array (runs x tasks) is resampled on its own, runs within each task
    (stratified). rliable draws its indices from NumPy's global generator; this
    subclass draws them from the bootstrap's own ``RandomState(seed)`` instead, so
    the intervals are reproducible and the global generator is left alone.
    """
    from rliable import library

    class SeededBootstrap(library.StratifiedIndependentBootstrap):  # type: ignore[misc]
        def _get_indices(
            self, num_runs: int, array_shape: tuple[int, ...], strata_indices: list[NDArray[np.int64]]
        ) -> tuple[NDArray[np.int64], ...]:
            return (self.generator.randint(num_runs, size=array_shape), *strata_indices)

    with warnings.catch_warnings():  # arch deprecates random_state for generator; the same RandomState
        warnings.simplefilter("ignore", FutureWarning)
        return SeededBootstrap(*arrays, random_state=np.random.RandomState(seed))


def _estimates(
    arrays: Sequence[NDArray[np.float64]], func: Any, reps: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Point estimates ``func(*arrays)`` and their 95 % percentile intervals, shape (2, k).

    One joint bootstrap for every statistic: each array is resampled independently, so
    every statistic's interval is that of a bootstrap of its own arrays.
    """
    point = np.asarray(func(*arrays), dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        interval = _bootstrap(arrays, seed).conf_int(func, reps=reps, size=0.95, method="percentile")
    return point, np.asarray(interval, dtype=float).reshape(2, -1)


def _statistics_of(
    scores: dict[str, NDArray[np.float64]], reference: str, reps: int, seed: int
) -> dict[str, Any]:
    """IQM [95 % CI] of each policy and its probability of improvement over ``reference``."""
    if not scores:
        return {}
    names = list(scores)
    others = [name for name in names if name != reference] if reference in scores else []
    ref = names.index(reference) if others else -1

    def func(*arrays: NDArray[np.float64]) -> NDArray[np.float64]:
        iqm = [interquartile_mean(a) for a in arrays]
        poi = [probability_of_improvement(arrays[names.index(o)], arrays[ref]) for o in others]
        return np.array(iqm + poi)

    point, interval = _estimates([scores[name] for name in names], func, reps, seed)
    table: dict[str, Any] = {}
    for i, name in enumerate(names):
        table[name] = {"n_runs": int(scores[name].shape[0]), "iqm": float(point[i]),
                       "iqm_ci": [float(interval[0, i]), float(interval[1, i])]}
    for j, name in enumerate(others, len(names)):
        table[name]["probability_of_improvement"] = float(point[j])
        table[name]["probability_of_improvement_ci"] = [float(interval[0, j]), float(interval[1, j])]
    return table


def rliable_statistics(
    rows: Sequence[dict[str, Any]],
    envs: Sequence[str],
    *,
    reps: int = 2000,
    seed: int = 0,
    reference: str = REFERENCE_AGENT,
) -> dict[str, Any]:
    """IQM with 95 % stratified-bootstrap CIs and P(policy > ``reference``), per environment and overall.

    :param rows: the benchmark's runs (``env_id``, ``policy``, ``seed``, ``normalized_score``).
    :param envs: the environments, in order.
    :param reps: bootstrap replications.
    :param seed: seed of the bootstrap's ``RandomState``.
    :param reference: the policy the probability of improvement is measured against.
    :returns: ``{"reps", "reference", "per_env": {env: {policy: stats}}, "overall": {policy: stats}}``;
        stats are ``n_runs``, ``iqm``, ``iqm_ci`` and, but for the reference,
        ``probability_of_improvement`` and its ``_ci``.
    """
    per_env = {
        env_id: _statistics_of(score_matrices(rows, [env_id]), reference, reps, seed) for env_id in envs
    }
    overall = _statistics_of(score_matrices(rows, envs), reference, reps, seed) if len(envs) > 1 else {}
    return {"reps": reps, "reference": reference, "per_env": per_env, "overall": overall}


def score_distribution(scores: NDArray[np.float64], taus: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fraction of all runs x tasks scoring above each tau.

    The value of ``rliable.library.score_distributions`` (tested), in one array
    comparison instead of one call per tau.
    """
    return np.asarray((scores.reshape(-1)[:, None] > taus[None, :]).mean(axis=0), dtype=float)


def profile_taus(scores: dict[str, NDArray[np.float64]], zoom: bool = False) -> NDArray[np.float64]:
    """Thresholds of a performance profile: the scores' whole range, or (``zoom``) 0.8 to 1.05.

    The good policies of this benchmark all score near 1 (the exact optimum is 1 by
    definition; only the hindsight oracle goes far beyond), so the zoomed panel is
    where they differ.
    """
    if zoom:
        return np.linspace(ZOOM_FROM, ZOOM_TO, 121)
    values = np.concatenate([m.reshape(-1) for m in scores.values()])
    return np.linspace(float(values.min()) - 0.05, float(values.max()) + 0.02, 121)


def draw_performance_profile(
    ax: Any,
    rows: Sequence[dict[str, Any]],
    envs: Sequence[str],
    *,
    reps: int = 2000,
    seed: int = 0,
    zoom: bool = False,
) -> None:
    """Performance profiles (fraction of runs with normalized score > tau) with 95 % bootstrap bands.

    ``zoom`` draws tau in [0.8, 1.05] (:func:`profile_taus`) and the legend.
    """
    from rliable import plot_utils

    scores = score_matrices(rows, envs)
    if not scores:
        return
    names = list(scores)
    taus = profile_taus(scores, zoom)
    point, interval = _estimates(
        [scores[name] for name in names],
        lambda *arrays: np.concatenate([score_distribution(a, taus) for a in arrays]),
        reps,
        seed,
    )
    n = len(taus)
    profiles = {name: point[i * n : (i + 1) * n] for i, name in enumerate(names)}
    intervals = {name: interval[:, i * n : (i + 1) * n] for i, name in enumerate(names)}
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20")
    colors = {policy: cmap(i % 20) for i, policy in enumerate(scores)}
    plot_utils.plot_performance_profiles(
        profiles, taus, performance_profile_cis=intervals, colors=colors, ax=ax,
        xlabel=r"normalized score ($\tau$)", ylabel=r"fraction of runs with score $> \tau$",
        labelsize="medium", ticklabelsize="small",
    )
    where = f"tau in [{ZOOM_FROM}, {ZOOM_TO}]" if zoom else "all scores"
    ax.set_title(f"performance profiles, {where} ({len(envs)} env., {reps} bootstrap reps)", fontsize=9)
    if zoom:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
