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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import EnvConfig
from agents.loading import load_policy
from agents.policy import Policy, decide_exits, end_rewards, format_thresholds, policy_obs_type
from sparq_gym.envs.core import ExitTables
from sparq_gym.envs.costs import resolve_cost
from sparq_gym.traces.costs import total_ops as total_ops_of_counts

__all__ = [
    "evaluate_exits",
    "evaluate_policy",
    "evaluate_specs",
    "format_ranking",
    "normalized_score",
    "reference_returns",
    "total_ops_table",
]

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
        total_ops = total_ops_of_counts(tables.counts, names)
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


def total_ops_table(config: EnvConfig, split: str) -> NDArray[np.float64]:
    """Total ops to reach every exit of every sample of ``split``, (N, E): the environments' cost."""
    return resolve_cost(config.load_traces(split), "total_ops")[0]


def reference_returns(config: EnvConfig, split: str = "test") -> dict[str, Any]:
    """Mean returns on ``split`` of always-final and of the exact optimum tuned on ``train``.

    These are the two ends of the normalized score. A caller that evaluates many
    policies on one environment computes them once and passes them to
    :func:`evaluate_policy`.
    """
    from agents.references.baselines import always_exit_policy
    from agents.references.exact_optimum import solve_exact_optimum

    tables = config.tables(split)
    rewards = end_rewards(tables)
    rows = np.arange(tables.n_samples)
    final = always_exit_policy(None, tables.n_early_exits, config.settings.n_bins)
    optimum = solve_exact_optimum(config.tables("train"), config.settings.n_bins)
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
    policy: Policy,
    config: EnvConfig,
    split: str = "test",
    *,
    name: str | None = None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate ``policy`` on every sample of ``split`` once; return the metrics dict.

    Besides :func:`evaluate_exits`' keys the result holds ``policy``, ``env_id``,
    ``split``, ``traces`` (the trace source), ``alpha``, ``n_bins``, ``cost``,
    ``normalized_score``, ``reference`` (the two ends of the score: ``reference``
    when given, else :func:`reference_returns` of ``config`` and ``split``) and, for
    table policies, ``thresholds`` (implied per exit) and ``thresholds_text``.
    """
    tables = config.tables(split, policy_obs_type(policy))
    exits = decide_exits(policy, tables)
    meta = dict(config.load_traces(split).meta)
    result = evaluate_exits(tables, exits, meta, total_ops_table(config, split))
    if reference is None:
        reference = reference_returns(config, split)
    result.update(
        {
            "policy": name or getattr(policy, "name", type(policy).__name__),
            "env_id": config.env_id,
            "split": split,
            "traces": config.source(),
            "alpha": config.settings.alpha,
            "n_bins": config.settings.n_bins,
            "cost": config.settings.cost,
            "normalized_score": normalized_score(result["mean_return"], reference),
            "reference": reference,
        }
    )
    if hasattr(policy, "thresholds"):
        records = policy.thresholds()
        result["thresholds"] = records
        result["thresholds_text"] = format_thresholds(records)
    return result


def evaluate_specs(
    specs: Sequence[str], config: EnvConfig, split: str = "test", *, seed: int = 0
) -> list[dict[str, Any]]:
    """Load every policy spec (:func:`agents.loading.load_policy`), evaluate it; best mean return first.

    Each result is :func:`evaluate_policy`'s, named by its spec; ``seed`` seeds
    the stochastic baselines.
    """
    reference = reference_returns(config, split)
    results = [
        evaluate_policy(load_policy(spec, config, seed=seed), config, split, name=spec, reference=reference)
        for spec in specs
    ]
    results.sort(key=lambda r: -r["mean_return"])
    return results


def format_ranking(results: Sequence[Mapping[str, Any]]) -> str:
    """A text table of ranked results: rank, policy, normalized score, return, accuracy, savings, exits."""
    lines = [
        f"{'#':>2} {'policy':32s} {'norm.score':>10s} {'return':>8s} {'accuracy':>9s} "
        f"{'savings':>8s} exits(%)"
    ]
    for rank, r in enumerate(results, 1):
        exits = "/".join(f"{100 * f:.0f}" for f in r["exit_distribution"])
        lines.append(
            f"{rank:2d} {r['policy'][:32]:32s} {r['normalized_score']:10.3f} {r['mean_return']:8.4f} "
            f"{100 * r['accuracy']:8.2f}% {r['mean_savings']:8.3f} {exits}"
        )
    return "\n".join(lines)
