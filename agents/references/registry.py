"""Every reference policy by name, for every family: what ``--policy NAME`` builds.

=================== ========== =============================================================
name                families   policy
=================== ========== =============================================================
``always-final``    both       the plain network's path: v0 never exits early; depth x time
                               WAITs to T at head 0, then CONTINUEs to the final head
``random``          both       EXIT with probability 1/2, else a random valid other action
``oracle``          both       per sample the best place knowing the label (an upper bound)
``exact-optimum``   both       the best table over the tabular observation on ``train``:
                               v0 by exhaustive search (:mod:`agents.references.exact_optimum`),
                               depth x time by MILP (:mod:`agents.references.exact_milp`; within
                               the config's ``optimum_seconds``, else the best known table and
                               a proven bound, its status says which)
``always-exit-K``,  exit       :mod:`agents.references.baselines` (thresholds on (k, b), the
``cfg-T1-T2``,                 paper's configurations, the gamma = 0.9 optimum)
``static-threshold``,
``exact-optimum-gammaG``
``depth-only``,     depth_time :mod:`agents.references.time_thresholds` (v0's thresholds at
``time-only``,                 t = T; SEENN-I on the final head; a threshold per (k, t))
``kt-thresholds``
=================== ========== =============================================================

Tuned references are fitted on the config's ``train`` split and kept in the config, so a
benchmark that evaluates several of them on one environment tunes each once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common import EnvConfig
from agents.policy import Policy, TablePolicy, decide_places
from agents.references.baselines import BASELINE_NAMES, HindsightOracle, RandomPolicy, make_baseline
from sparq_gym.errors import ConfigError

__all__ = [
    "REFERENCE_NAMES",
    "TableOptimum",
    "exact_optimum_of",
    "is_reference",
    "make_reference",
    "reference_names",
]

REFERENCE_NAMES: dict[str, tuple[str, ...]] = {
    "exit": BASELINE_NAMES,
    "depth_time": (
        "always-final",
        "random",
        "depth-only",
        "time-only",
        "kt-thresholds",
        "exact-optimum",
        "oracle",
    ),
}
"""The reference names of each family, in the order a leaderboard lists them."""

_PATTERNS: dict[str, tuple[str, ...]] = {
    "exit": ("cfg-", "always-exit-", "exact-optimum-gamma"),
    "depth_time": (),
}


@dataclass(frozen=True)
class TableOptimum:
    """The best tabular policy found on ``train``.

    :param policy: the table.
    :param train_return: its mean return on ``train``.
    :param status: how it was found and whether it is proven optimal.
    :param proven: whether no table earns more on ``train``.
    :param bound: a proven upper bound on the best table's ``train`` return.
    :param seconds: the search's wall time.
    """

    policy: TablePolicy
    train_return: float
    status: str
    proven: bool
    bound: float
    seconds: float


def reference_names(family: str) -> tuple[str, ...]:
    """The reference names ``family`` accepts (patterns such as ``cfg-T1-T2`` aside)."""
    return REFERENCE_NAMES[family]


def is_reference(name: str) -> bool:
    """Whether ``name`` names a reference policy of some family."""
    return any(
        name in names or name.startswith(_PATTERNS[family]) for family, names in REFERENCE_NAMES.items()
    )


def make_reference(name: str, config: EnvConfig, *, seed: int = 0) -> Policy:
    """Build the reference ``name`` for the environment ``config`` (tuned ones on its ``train``)."""
    family = config.family.name
    if name not in REFERENCE_NAMES[family] and not name.startswith(_PATTERNS[family]):
        other = [f for f, names in REFERENCE_NAMES.items() if name in names]
        where = f" (a reference of the {other[0]} family)" if other else ""
        raise ConfigError(
            f"policy {name!r}{where} is not a reference of {config.env_id}; its references are "
            f"{list(REFERENCE_NAMES[family])}"
        )
    if name == "oracle":
        return HindsightOracle()
    if name == "random":
        return RandomPolicy(seed=seed)
    if name == "exact-optimum":
        return exact_optimum_of(config).policy
    if family == "exit":
        return make_baseline(name, config, seed=seed)
    return _time_reference(name, config)


def _time_reference(name: str, config: EnvConfig) -> TablePolicy:
    """The depth x time references tuned on ``train`` (kept in the config)."""
    from agents.references import time_thresholds as tt

    def build() -> TablePolicy:
        tables = config.tables("train", "multidiscrete")
        if name == "always-final":
            return TablePolicy(tt.always_final_table(tables), name=name)
        if name == "depth-only":
            return TablePolicy(
                tt.depth_only_table(config.load_traces("train"), tables, config.settings), name=name
            )
        if name == "time-only":
            return TablePolicy(tt.tune_time_only(tables)[0], name=name)
        # Coordinate ascent from the better (on train) of depth-only and time-only.
        decisions = tables.decisions()
        starts = [_time_reference(other, config) for other in ("depth-only", "time-only")]
        start = max(starts, key=lambda policy: _train_return(policy, decisions)).actions
        return TablePolicy(tt.tune_kt_thresholds(tables, start), name=name)

    policy: TablePolicy = config._once(("reference", name), build)
    return policy


def exact_optimum_of(config: EnvConfig) -> TableOptimum:
    """The best table on ``config``'s ``train`` split (found once per config)."""
    result: TableOptimum = config._once(
        ("exact-optimum", str(config.optimum_seconds)), lambda: _optimum(config)
    )
    return result


def _optimum(config: EnvConfig) -> TableOptimum:
    start = time.perf_counter()
    tables = config.tables("train", "multidiscrete")
    if config.family.name == "exit":
        from agents.references.exact_optimum import solve_exact_optimum

        found = solve_exact_optimum(tables, config.settings.n_bins)
        found.policy.name = "exact-optimum"
        return TableOptimum(
            found.policy,
            found.mean_return,
            "optimal (exhaustive search)",
            True,
            found.mean_return,
            time.perf_counter() - start,
        )
    from agents.references.exact_milp import solve_depth_time_optimum

    seconds = config.optimum_seconds
    milp = solve_depth_time_optimum(tables, time_limit=seconds) if seconds > 0 else None
    if milp is not None and milp.optimal:
        policy = TablePolicy(milp.actions, name="exact-optimum")
        return TableOptimum(policy, milp.value, "MILP optimal", True, milp.value, time.perf_counter() - start)
    # The best known table on train: the MILP's incumbent or one of the tuned threshold tables.
    decisions = tables.decisions()
    candidates = {name: _time_reference(name, config).actions for name in _TUNED_TABLES}
    if milp is not None:
        candidates["the MILP's incumbent"] = milp.actions
    values = {name: _train_return(TablePolicy(table), decisions) for name, table in candidates.items()}
    best = max(values, key=lambda name: values[name])
    bound = float("inf") if milp is None else milp.bound
    why = "MILP not run (optimum_seconds 0)" if milp is None else f"MILP time limit ({seconds:g} s)"
    status = f"{why}: best known table: {best}" + ("" if milp is None else f"; train <= {bound:.4f}")
    policy = TablePolicy(candidates[best], name="exact-optimum")
    return TableOptimum(policy, values[best], status, False, bound, time.perf_counter() - start)


_TUNED_TABLES: tuple[str, ...] = ("kt-thresholds", "time-only", "depth-only")
"""The tuned depth x time tables the best known table is chosen among (with the MILP's incumbent)."""


def _train_return(policy: TablePolicy, decisions: Any) -> float:
    """Mean return of ``policy`` over every sample of ``decisions``."""
    places = decide_places(policy, decisions)[0]
    return float(decisions.place_reward[np.arange(decisions.n_samples), places].mean())
