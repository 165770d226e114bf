"""One deterministic pass over every sample of a split: what a policy earns and costs.

Every sample of the split is played exactly once (as ``reset(options=
{"sample_index": i})`` would), the exit each sample ends at is recorded, and
every metric is read from the environment's tables for those exits:

============================== ===========================================================
key                            meaning
============================== ===========================================================
``mean_return``                mean episode return (reward of the exit used)
``accuracy``                   fraction of samples whose exit's prediction is right
``mean_savings``               mean ``1 - C_exit / C_full`` under the environment's cost
``mean_synaptic_ops``          mean synaptic operations of the path to the exit used
``mean_total_ops``             mean total ops of that path (``synaptic_ops + lif_ops``; MACs for an
                               ANN: the environments' ``cost="total_ops"``)
``mean_energy_j``              mean energy in joules under the ``sparq`` model (paper Eq. 4-9)
``exit_distribution``          fraction of samples ending at each exit (final last)
``exit_distribution_per_class`` the same per true class, a C x E list (cf. paper Fig. 2)
``normalized_score``           ``(R - R_always_final) / (R_best - R_always_final)`` on this split,
                               R_best the exact optimum (tuned on ``train``) on this split
============================== ===========================================================

Policies that are tables or the oracle are evaluated from the tables in one
vectorised step; any other policy is asked for actions batch by batch
(:func:`agents.policy.decide_exits`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import EnvConfig
from agents.policy import decide_exits, end_rewards, format_thresholds, policy_obs_type
from sparq_gym.envs.core import ExitTables
from sparq_gym.envs.costs import ANN_OPS_COUNTER, TOTAL_OPS_COUNTERS, resolve_cost

__all__ = ["evaluate_exits", "evaluate_policy", "reference_returns", "total_ops_table"]

REQUIRED_KEYS: tuple[str, ...] = ("mean_return", "accuracy", "mean_savings", "normalized_score")


def evaluate_exits(
    tables: ExitTables,
    exits: NDArray[np.int64],
    meta: dict[str, Any] | None = None,
    total_ops: NDArray[np.float64] | None = None,
) -> dict[str, Any]:
    """Metrics of ending sample i at ``exits[i]`` for every sample of ``tables``.

    :param tables: the split's exit tables.
    :param exits: exit index per sample (E-1 = final head), shape (N,).
    :param meta: trace metadata passed to the energy model.
    :param total_ops: total ops to reach every exit, (N, E), as the environments'
        ``cost="total_ops"`` counts them (:func:`total_ops_table`); computed from
        ``tables.counts`` the same way when omitted.
    """
    n = tables.n_samples
    exits = np.asarray(exits, dtype=np.int64)
    if exits.shape != (n,):
        raise ValueError(f"exits must have shape ({n},), got {exits.shape}")
    rows = np.arange(n)
    n_exits = tables.correct.shape[1]
    names = list(tables.counter_names)
    counts = tables.counts[rows, exits]  # (N, K) raw counters of each path
    if total_ops is None:
        total_ops = _total_ops_from_counts(tables.counts, names)
    path_ops = np.asarray(total_ops)[rows, exits]
    from sparq_gym.energy import get_energy_model

    energy = get_energy_model("sparq").energy_joules(counts, names, meta or {})
    exit_fraction = np.bincount(exits, minlength=n_exits) / max(n, 1)
    n_classes = int(max(tables.labels.max(initial=0) + 1, tables.predictions.max(initial=0) + 1))
    per_class = np.zeros((n_classes, n_exits))
    np.add.at(per_class, (tables.labels, exits), 1.0)
    per_class /= np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
    return {
        "n_samples": n,
        "mean_return": float(end_rewards(tables)[rows, exits].mean()),
        "accuracy": float(tables.correct[rows, exits].mean()),
        "mean_savings": float(tables.savings[rows, exits].mean()),
        "mean_synaptic_ops": float(counts[:, names.index("synaptic_ops")].mean()),
        "mean_total_ops": float(path_ops.mean()),
        "mean_energy_j": float(energy.mean()),
        "exit_distribution": exit_fraction.tolist(),
        "exit_distribution_per_class": per_class.tolist(),
    }


def _total_ops_from_counts(counts: NDArray[np.int64], names: list[str]) -> NDArray[np.float64]:
    """Total ops per (sample, exit) as ``cost="total_ops"`` defines them (MACs for an ANN)."""
    spiking = counts[:, :, [names.index(c) for c in TOTAL_OPS_COUNTERS]].sum(axis=2)
    if not spiking.any() and ANN_OPS_COUNTER in names:
        return counts[:, :, names.index(ANN_OPS_COUNTER)].astype(np.float64)
    return spiking.astype(np.float64)


def total_ops_table(config: EnvConfig, split: str) -> NDArray[np.float64]:
    """Total ops to reach every exit of every sample of ``split``, (N, E): the environments' cost."""
    return resolve_cost(config.load_traces(split), "total_ops")[0]


@lru_cache(maxsize=32)
def reference_returns(config: EnvConfig, split: str = "test") -> dict[str, Any]:
    """Mean returns on ``split`` of always-final and of the exact optimum tuned on ``train``.

    These are the two ends of the normalized score. Cached per config.
    """
    from agents.baselines import always_exit_policy
    from agents.exact_optimum import solve_exact_optimum

    tables = config.tables(split)
    rewards = end_rewards(tables)
    rows = np.arange(tables.n_samples)
    final = always_exit_policy(None, tables.n_early_exits, config.n_bins)
    optimum = solve_exact_optimum(config.tables("train"), config.n_bins)
    return {
        "always_final": float(rewards[rows, final.choose_exits(tables)].mean()),
        "exact_optimum": float(rewards[rows, optimum.policy.choose_exits(tables)].mean()),
        "exact_optimum_train": optimum.mean_return,
        "exact_optimum_thresholds": format_thresholds(optimum.policy.thresholds()),
    }


def normalized_score(mean_return: float, reference: dict[str, Any]) -> float:
    """``(R - R_always_final) / (R_best - R_always_final)``; NaN when the two ends coincide."""
    span = reference["exact_optimum"] - reference["always_final"]
    if abs(span) < 1e-12:
        return float("nan")
    return (mean_return - reference["always_final"]) / span


def evaluate_policy(
    policy: Any, config: EnvConfig, split: str = "test", *, name: str | None = None
) -> dict[str, Any]:
    """Evaluate ``policy`` on every sample of ``split`` once; return the metrics dict.

    Besides :func:`evaluate_exits`' keys the result holds ``policy``, ``env_id``,
    ``split``, ``traces`` (the trace source), ``alpha``, ``n_bins``, ``cost``,
    ``normalized_score``, ``reference`` (the two ends of the score) and, for
    table policies, ``thresholds`` (implied per exit) and ``thresholds_text``.
    """
    obs_type = policy_obs_type(policy)
    tables = config.tables(split, obs_type)  # type: ignore[arg-type]
    exits = decide_exits(policy, tables)
    meta = dict(config.load_traces(split).meta)
    result = evaluate_exits(tables, exits, meta, total_ops_table(config, split))
    reference = reference_returns(config, split)
    result.update(
        {
            "policy": name or getattr(policy, "name", type(policy).__name__),
            "env_id": config.env_id,
            "split": split,
            "traces": config.source(),
            "alpha": config.alpha,
            "n_bins": config.n_bins,
            "cost": config.cost,
            "normalized_score": normalized_score(result["mean_return"], reference),
            "reference": reference,
        }
    )
    if hasattr(policy, "thresholds"):
        records = policy.thresholds()
        result["thresholds"] = records
        result["thresholds_text"] = format_thresholds(records)
    return result
