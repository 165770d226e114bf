"""One deterministic pass over every sample of a split, for any family: what a policy earns and costs.

Every sample of the split is played exactly once (as ``reset(options=
{"sample_index": i})`` would), the place each sample ends at is recorded
(:func:`agents.policy.decide_places`), and every metric is read from the family's
:class:`~sparq_gym.envs.decisions.DecisionTables` for those places:

============================== ===========================================================
key                            meaning
============================== ===========================================================
``mean_return``                mean episode return (reward of the place ended at)
``accuracy``                   fraction of samples whose answer is right
``mean_savings``               mean ``1 - C_path / C_full`` under the environment's cost
``mean_synaptic_ops``          mean synaptic operations of the path taken
``mean_total_ops``             mean total ops of that path (``synaptic_ops + lif_ops``; MACs for an
                               ANN: the environments' ``cost="total_ops"``)
``mean_energy_j``              mean energy in joules under the ``sparq`` model (paper Eq. 4-9)
``mean_head``                  mean index of the head that answered (final = E-1)
``mean_timesteps``             depth x time: mean timesteps run at the answer
``exit_distribution``          fraction of samples answered by each head (final last)
``exit_distribution_per_class`` the same per true class, a C x E list (cf. paper Fig. 2)
``invalid_actions``            masked actions the policy chose (each taken as EXIT, spec §9)
``normalized_score``           ``(R - R_low) / (R_best - R_low)`` on this split with the family's
                               anchors (:func:`reference_returns`: always-final and the exact
                               tabular optimum tuned on ``train``)
============================== ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common import EnvConfig
from agents.loading import load_policy
from agents.policy import Policy, decide_places, format_thresholds, policy_obs_type
from sparq_gym.envs.costs import path_cost
from sparq_gym.envs.decisions import DecisionTables
from sparq_gym.traces.costs import total_ops

__all__ = [
    "evaluate_places",
    "evaluate_policy",
    "evaluate_specs",
    "format_ranking",
    "normalized_score",
    "reference_returns",
    "total_ops_table",
]

REQUIRED_KEYS: tuple[str, ...] = ("mean_return", "accuracy", "mean_savings", "normalized_score")


def evaluate_places(
    decisions: DecisionTables,
    places: NDArray[np.int64],
    meta: dict[str, Any] | None = None,
    path_total_ops: NDArray[np.float64] | None = None,
) -> dict[str, Any]:
    """Metrics of ending sample i at place ``places[i]`` for every sample of ``decisions``.

    :param decisions: the split's decision tables (any family).
    :param places: place per sample (v0: the exit, E-1 = final head; depth x time: the state), (N,).
    :param meta: trace metadata passed to the energy model.
    :param path_total_ops: total ops of the path to every place, (N, P), as the environments'
        ``cost="total_ops"`` counts them (:func:`total_ops_table`); computed from the counters
        without the ANN rule when omitted.
    """
    n = decisions.n_samples
    places = np.asarray(places, dtype=np.int64)
    if places.shape != (n,):
        raise ValueError(f"places must have shape ({n},), got {places.shape}")
    rows = np.arange(n)
    names = list(decisions.counter_names)
    counts = decisions.place_counts[rows, places]  # (N, K) raw counters of each path
    if path_total_ops is None:
        path_total_ops = total_ops(decisions.place_counts, names)
    from sparq_gym.energy import get_energy_model

    energy = get_energy_model("sparq").energy_joules(counts, names, meta or {})
    n_heads = decisions.n_heads
    heads = decisions.place_head[places]
    n_classes = int(max(decisions.labels.max(initial=0) + 1, decisions.place_prediction.max(initial=0) + 1))
    per_class = np.zeros((n_classes, n_heads))
    np.add.at(per_class, (decisions.labels, heads), 1.0)
    per_class /= np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
    result = {
        "n_samples": n,
        "mean_return": float(decisions.place_reward[rows, places].mean()),
        "accuracy": float(decisions.place_correct[rows, places].mean()),
        "mean_savings": float(decisions.place_savings[rows, places].mean()),
        "mean_synaptic_ops": float(counts[:, names.index("synaptic_ops")].mean()),
        "mean_total_ops": float(np.asarray(path_total_ops)[rows, places].mean()),
        "mean_energy_j": float(energy.mean()),
        "mean_head": float(heads.mean()),
        "exit_distribution": (np.bincount(heads, minlength=n_heads) / max(n, 1)).tolist(),
        "exit_distribution_per_class": per_class.tolist(),
    }
    if decisions.place_timesteps is not None:
        result["mean_timesteps"] = float(decisions.place_timesteps[places].mean())
    return result


def total_ops_table(config: EnvConfig, split: str) -> NDArray[np.float64]:
    """Total ops of the path to every place of every sample of ``split``, (N, P): the environments'
    ``cost="total_ops"`` (the ANN rule decided once on the plain network)."""
    counts = config.decisions(split).place_counts
    return path_cost(counts, config.load_traces(split), "total_ops")[0]


def reference_returns(config: EnvConfig, split: str = "test") -> dict[str, Any]:
    """The family's two anchors of the normalized score on ``split``: ``always_final`` (the plain
    network's path) and ``exact_optimum`` (the best tabular policy found on ``train``; its status
    under ``exact_optimum_status``).

    A caller that evaluates many policies on one environment computes them once and passes them
    to :func:`evaluate_policy`.
    """
    from agents.references.registry import exact_optimum_of, make_reference

    decisions = config.decisions(split, "multidiscrete")
    rows = np.arange(decisions.n_samples)

    def mean_return(policy: Policy) -> float:
        return float(decisions.place_reward[rows, decide_places(policy, decisions)[0]].mean())

    optimum = exact_optimum_of(config)
    return {
        "always_final": mean_return(make_reference("always-final", config)),
        "exact_optimum": mean_return(optimum.policy),
        "exact_optimum_train": optimum.train_return,
        "exact_optimum_thresholds": format_thresholds(optimum.policy.thresholds()),
        "exact_optimum_status": optimum.status,
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

    Besides :func:`evaluate_places`' keys the result holds ``policy``, ``env_id``,
    ``split``, ``traces`` (the trace source), ``alpha``, ``n_bins``, ``cost``,
    ``invalid_actions``, ``normalized_score``, ``reference`` (the two ends of the score:
    ``reference`` when given, else :func:`reference_returns` of ``config`` and ``split``) and,
    for v0 table policies, ``thresholds`` (implied per exit) and ``thresholds_text``.
    """
    decisions = config.decisions(split, policy_obs_type(policy))
    places, n_invalid = decide_places(policy, decisions)
    meta = dict(config.load_traces(split).meta)
    result = evaluate_places(decisions, places, meta, total_ops_table(config, split))
    if reference is None:
        reference = reference_returns(config, split)
    result.update(
        {
            "policy": name or getattr(policy, "name", type(policy).__name__),
            "env_id": config.env_id,
            "family": config.family.name,
            "split": split,
            "traces": config.source(),
            "alpha": config.settings.alpha,
            "n_bins": config.settings.n_bins,
            "cost": config.settings.cost,
            "invalid_actions": n_invalid,
            "normalized_score": normalized_score(result["mean_return"], reference),
            "reference": reference,
        }
    )
    records = policy.thresholds() if hasattr(policy, "thresholds") else []
    if records:
        result["thresholds"] = records
        result["thresholds_text"] = format_thresholds(records)
    return result


def evaluate_specs(
    specs: Sequence[str],
    config: EnvConfig,
    split: str = "test",
    *,
    seed: int = 0,
    vecnormalize: str | None = None,
) -> list[dict[str, Any]]:
    """Load every policy spec (:func:`agents.loading.load_policy`), evaluate it; best mean return first.

    Each result is :func:`evaluate_policy`'s, named by its spec; ``seed`` seeds
    the stochastic baselines; ``vecnormalize`` is a model zip's statistics file.
    """
    policies = [
        load_policy(spec, config, seed=seed, vecnormalize=vecnormalize) for spec in specs
    ]  # before work
    reference = reference_returns(config, split)
    results = [
        evaluate_policy(policy, config, split, name=spec, reference=reference)
        for spec, policy in zip(specs, policies)
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
