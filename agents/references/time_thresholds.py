"""Reference policies of the depth x time environments (spec §9) and their numbers.

=================== =====================================================================
name                policy
=================== =====================================================================
``oracle``          per sample the decision point (and path) with the highest reward,
                    knowing the label: an upper bound no policy can pass
``depth-only``      WAIT to T at head 0, then v0's best static thresholds (tuned on
                    ``train`` with :func:`agents.references.baselines.tune_static_thresholds` on the
                    v0 traces :meth:`~sparq_gym.traces.timeset.TimeTraceSet.to_v0` derives)
``time-only``       SEENN-I: CONTINUE to the final head at t = 1 (the early heads are
                    evaluated once on the way, at t = 1, as the contract has no skip), then
                    EXIT when its confidence reaches theta, else WAIT; theta tuned on ``train``
``kt-thresholds``   a threshold per (k, t) and a fallback (CONTINUE or WAIT) per (k, t):
                    EXIT iff confidence >= theta_{k,t}, else the fallback; coordinate ascent
                    on ``train``, thresholds multiples of 1/B (the registry starts it from the
                    better of ``depth-only`` and ``time-only`` on ``train``; the report below
                    from ``depth-only``)
``exact-optimum``   the best (k, t, bin) -> action table on ``train``, by MILP
                    (:mod:`agents.references.exact_milp`)
=================== =====================================================================

Every tabular policy here is a table ``pi[k, tau, b]`` of actions (tau = t - 1);
:func:`rollout_table` plays it on every sample of a :class:`DepthTimeTables` at once.
``python -m agents.references.time_thresholds`` prints the numbers (train-tuned, test-evaluated).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.policy import TablePolicy, decide_places
from agents.references.baselines import tune_static_thresholds
from agents.references.exact_milp import solve_depth_time_optimum
from sparq_gym.envs.core import build_exit_tables
from sparq_gym.envs.depth_time_core import DepthTimeAction, DepthTimeTables, build_depth_time_tables
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.io import atomic_write_text
from sparq_gym.traces.timeset import TimeTraceSet, make_synthetic_time_traces

__all__ = [
    "PolicyResult",
    "always_final_table",
    "depth_only_table",
    "format_rows",
    "main",
    "oracle_result",
    "reference_numbers",
    "rollout_table",
    "summarize",
    "time_only_table",
    "tune_kt_thresholds",
    "verdict",
]

CONTINUE, EXIT, WAIT = (int(a) for a in DepthTimeAction)


@dataclass(frozen=True)
class PolicyResult:
    """What a policy earns on one split: mean return, accuracy, savings, mean head and timesteps.

    :param name: the policy.
    :param mean_return: mean reward per episode.
    :param accuracy: fraction of episodes answered right.
    :param savings: mean ``1 - C / C_full``.
    :param mean_exit: mean head index answered at.
    :param mean_timesteps: mean timesteps run at the answer.
    """

    name: str
    mean_return: float
    accuracy: float
    savings: float
    mean_exit: float
    mean_timesteps: float


def rollout_table(tables: DepthTimeTables, actions: NDArray[np.int64]) -> NDArray[np.int64]:
    """The state at which each sample EXITs under the table ``actions[k, tau, b]``, (N,): the one
    walk of every policy (:func:`agents.policy.decide_places`) on the tables' decision form.

    A masked action in the table raises ``ValueError`` (a tuned table never takes one).
    """
    places, n_invalid = decide_places(TablePolicy(actions), tables.decisions())
    if n_invalid:
        raise ValueError("the table takes a masked action (CONTINUE at the final head or WAIT at t = T)")
    return places


def summarize(name: str, tables: DepthTimeTables, states: NDArray[np.int64]) -> PolicyResult:
    """The :class:`PolicyResult` of ending sample i at state ``states[i]``."""
    rows = np.arange(tables.n_samples)
    k, tau = tables.state_head[states], tables.state_time[states]
    return PolicyResult(
        name=name,
        mean_return=float(tables.reward_exit[rows, states].mean()),
        accuracy=float(tables.correct[rows, k, tau].mean()),
        savings=float(tables.savings[rows, states].mean()),
        mean_exit=float(k.mean()),
        mean_timesteps=float((tau + 1).mean()),
    )


def oracle_result(tables: DepthTimeTables) -> PolicyResult:
    """Hindsight oracle: per sample the state with the highest EXIT reward (ties: the first state)."""
    return summarize("oracle", tables, np.argmax(tables.reward_exit, axis=1).astype(np.int64))


def _empty_table(tables: DepthTimeTables) -> NDArray[np.int64]:
    """A table of EXIT everywhere, (E, T, B)."""
    return np.full((tables.n_exits, tables.n_timesteps, tables.n_bins), EXIT, dtype=np.int64)


def always_final_table(tables: DepthTimeTables) -> NDArray[np.int64]:
    """The plain network's path: WAIT to T at head 0, then CONTINUE to the final head and EXIT.

    Its rewards are v0's ``always-final`` on the v0 traces the depth x time traces derive
    (:meth:`~sparq_gym.traces.timeset.TimeTraceSet.to_v0`): the family's lower anchor.
    """
    table = _empty_table(tables)
    table[0, :-1, :] = WAIT
    table[:-1, -1, :] = CONTINUE
    return table


def depth_only_table(
    traces: TimeTraceSet, tables: DepthTimeTables, settings: ExitSettings
) -> NDArray[np.int64]:
    """WAIT to T at head 0, then v0's static thresholds tuned on ``traces`` (its v0 form) at t = T."""
    v0 = build_exit_tables(
        traces.to_v0(),
        alpha=settings.alpha,
        n_bins=settings.n_bins,
        cost=settings.cost,
        obs_type="multidiscrete",
    )
    v0_policy, _ = tune_static_thresholds(v0, settings.n_bins)
    table = _empty_table(tables)
    table[0, :-1, :] = WAIT
    table[:-1, -1, :] = np.where(np.asarray(v0_policy.actions) == 1, EXIT, CONTINUE)
    return table


def time_only_table(tables: DepthTimeTables, theta: float) -> NDArray[np.int64]:
    """SEENN-I: CONTINUE to the final head at t = 1, then EXIT iff confidence >= theta, else WAIT."""
    table = _empty_table(tables)
    table[:-1, 0, :] = CONTINUE
    exits = np.arange(tables.n_bins) / tables.n_bins >= theta - 1e-9
    table[-1, :-1, :] = np.where(exits, EXIT, WAIT)
    return table


def _value(tables: DepthTimeTables, table: NDArray[np.int64]) -> float:
    states = rollout_table(tables, table)
    return float(tables.reward_exit[np.arange(tables.n_samples), states].mean())


def tune_time_only(tables: DepthTimeTables) -> tuple[NDArray[np.int64], float]:
    """The best SEENN-I theta in {0, 1/B, ..., 1} on ``tables``; returns the table and theta."""
    grid = [j / tables.n_bins for j in range(tables.n_bins + 1)]
    values = [_value(tables, time_only_table(tables, theta)) for theta in grid]
    theta = grid[int(np.argmax(values))]
    return time_only_table(tables, theta), theta


def tune_kt_thresholds(
    tables: DepthTimeTables, start: NDArray[np.int64], sweeps: int = 5
) -> NDArray[np.int64]:
    """Per-(k, t) threshold and fallback, by coordinate ascent on ``tables`` from the table ``start``.

    A cell's rule is "EXIT iff bin / B >= theta, else the fallback" with theta in
    {0, 1/B, ..., 1} and the fallback a valid one of CONTINUE and WAIT; each sweep
    tries every rule at every cell and keeps a change only when it raises the return.
    """
    table = start.copy()
    best = _value(tables, table)
    floors = np.arange(tables.n_bins) / tables.n_bins
    for _ in range(sweeps):
        improved = False
        for k in range(tables.n_exits):
            for tau in range(tables.n_timesteps):
                fallbacks = [
                    a
                    for a, ok in ((CONTINUE, k < tables.n_exits - 1), (WAIT, tau < tables.n_timesteps - 1))
                    if ok
                ] or [EXIT]
                for fallback in fallbacks:
                    for j in range(tables.n_bins + 1):
                        candidate = table.copy()
                        candidate[k, tau] = np.where(floors >= j / tables.n_bins - 1e-9, EXIT, fallback)
                        value = _value(tables, candidate)
                        if value > best + 1e-12:
                            table, best, improved = candidate, value, True
        if not improved:
            break
    return table


def reference_numbers(
    train: TimeTraceSet,
    test: TimeTraceSet,
    settings: ExitSettings | None = None,
    *,
    time_limit: float = 600.0,
    with_optimum: bool = True,
) -> list[dict[str, Any]]:
    """Every reference policy tuned on ``train`` and evaluated on ``test`` (and on ``train``).

    ``with_optimum=False`` skips the MILP (``exact-optimum``, up to ``time_limit`` seconds).
    Rows: name, train and test mean return, test accuracy, savings, mean head and
    timesteps, the seconds spent tuning, and a note (thresholds, MILP status).
    """
    settings = settings or ExitSettings()
    train_t, test_t = (
        build_depth_time_tables(
            traces, alpha=settings.alpha, n_bins=settings.n_bins, cost=settings.cost, obs_type="multidiscrete"
        )
        for traces in (train, test)
    )
    rows: list[dict[str, Any]] = []

    def add(name: str, table: NDArray[np.int64], seconds: float, note: str = "") -> None:
        result = summarize(name, test_t, rollout_table(test_t, table))
        rows.append(
            {**result.__dict__, "train_return": _value(train_t, table), "seconds": seconds, "note": note}
        )

    rows.append(
        {
            **oracle_result(test_t).__dict__,
            "train_return": oracle_result(train_t).mean_return,
            "seconds": 0.0,
            "note": "knows the label",
        }
    )
    start = time.perf_counter()
    depth = depth_only_table(train, train_t, settings)
    add("depth-only", depth, time.perf_counter() - start, "v0 static thresholds at t = T")
    start = time.perf_counter()
    time_table, theta = tune_time_only(train_t)
    add("time-only", time_table, time.perf_counter() - start, f"SEENN-I theta = {theta:g}")
    start = time.perf_counter()
    kt = tune_kt_thresholds(train_t, depth)
    add("kt-thresholds", kt, time.perf_counter() - start, "coordinate ascent from depth-only")
    if not with_optimum:
        return rows
    start = time.perf_counter()
    optimum = solve_depth_time_optimum(train_t, time_limit=time_limit)
    add(
        "exact-optimum",
        optimum.actions,
        time.perf_counter() - start,
        f"MILP {'optimal' if optimum.optimal else 'time limit'}, train <= {optimum.bound:.4f}, "
        f"{optimum.n_nodes} nodes",
    )
    rows[-1].update(proven=optimum.optimal, bound=optimum.bound)
    return rows


def verdict(sections: list[tuple[int, list[dict[str, Any]]]]) -> str:
    """Whether a proven optimum beats every depth-only and time-only row on ``test``.

    ``sections`` holds ``(B, rows of reference_numbers)`` for one backbone at several B:
    the threshold policies at every B compete (their best test return, the strictest
    comparison), the table only where the MILP proved it optimal.
    """
    best = {name: max(((r["mean_return"], b) for b, rows in sections for r in rows if r["name"] == name),
                      default=None) for name in ("depth-only", "time-only")}
    proven = [(r["mean_return"], b) for b, rows in sections for r in rows
              if r["name"] == "exact-optimum" and r.get("proven")]
    others = "; ".join(f"best {name} {value[0]:.4f} (B = {value[1]})"
                       for name, value in best.items() if value)
    if not proven:
        return f"no proven optimum; {others}"
    value, b = max(proven)
    beaten = all(value > other[0] for other in best.values() if other)
    return (f"proven optimum at B = {b}: test {value:.4f}; {others}: "
            f"{'beats both' if beaten else 'does not beat both'}")


def format_rows(rows: list[dict[str, Any]], title: str) -> str:
    """A markdown table of :func:`reference_numbers` rows."""
    lines = [
        f"### {title}",
        "",
        "| policy | train return | test return | test accuracy | savings | "
        "mean head | mean t | tuning s | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['train_return']:.4f} | {r['mean_return']:.4f} | {r['accuracy']:.4f} | "
            f"{r['savings']:.4f} | {r['mean_exit']:.2f} | {r['mean_timesteps']:.2f} | "
            f"{r['seconds']:.1f} | {r['note']} |"
        )
    return "\n".join(lines)


_OPTIMUM_INTRO = """# The exact tabular optimum of the depth x time family

`agents.references.exact_milp` finds the best (k, t, bin) -> action table on `train` by a MILP
(scipy's HiGHS; brute-force-tested on tiny trace sets). It is exact where the row's note says
`MILP optimal`; `time limit` means HiGHS stopped with the best table found and a proven upper
bound (`train <=`) on the best table's train return. The program grows with the number of
confidence bins B of the tabular observation (the environments' `n_bins`, 10 by default):
each section is one B (a section without an `exact-optimum` row is one where the MILP did not
run: `--optimum-bins`). The threshold policies are tuned on `train` at the same B (their
thresholds are multiples of 1/B). Each backbone's verdict compares the best proven table's
`test` return with the best `test` return of depth-only and of time-only over every B
listed, the strictest comparison for the table."""


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.references.time_thresholds [--backbone NAME ... | --synthetic N]``: print
    the reference numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", nargs="*", default=["mlp", "lenet", "alexnet"])
    parser.add_argument("--synthetic", type=int, default=0, help="use N synthetic samples per split instead")
    parser.add_argument("--time-limit", type=float, default=600.0, help="MILP time limit per backbone (s)")
    parser.add_argument("--alpha", type=float, default=ExitSettings.alpha)
    parser.add_argument("--n-bins", type=int, nargs="+", default=[ExitSettings.n_bins],
                        help="confidence bins B of the tables (several: one section each)")
    parser.add_argument("--optimum-bins", type=int, nargs="*", default=None,
                        help="the B at which the MILP runs (default: every --n-bins)")
    parser.add_argument("--out", default=None,
                        help="also write the sections and verdicts to this markdown file")
    args = parser.parse_args(argv)
    if min(args.n_bins) < 1 or args.time_limit <= 0:
        parser.error("--n-bins must be >= 1 and --time-limit > 0")
    optimum_bins = set(args.n_bins if args.optimum_bins is None else args.optimum_bins)
    if args.synthetic:
        pairs = {
            "synthetic": (
                make_synthetic_time_traces(args.synthetic, seed=0, split="train"),
                make_synthetic_time_traces(args.synthetic, seed=1, split="test"),
            )
        }
    else:
        from sparq_gym.envs.depth_time_env import time_trace_dir

        pairs = {}
        for name in args.backbone:
            directory = time_trace_dir(name)
            if not os.path.exists(directory / "manifest.json"):
                print(f"{name}: no depth-time traces at {directory}; skipped")
                continue
            pairs[name] = (TimeTraceSet.load(directory, "train"), TimeTraceSet.load(directory, "test"))
    given = sys.argv[1:] if argv is None else argv
    command = "python -m agents.references.time_thresholds " + " ".join(given)
    parts = [_OPTIMUM_INTRO, "", f"Produced by `{command}` (seconds per row in `tuning s`).", ""]
    for name, (train, test) in pairs.items():
        sections = []
        for n_bins in args.n_bins:
            settings = ExitSettings(alpha=args.alpha, n_bins=n_bins)
            rows = reference_numbers(train, test, settings, time_limit=args.time_limit,
                                     with_optimum=n_bins in optimum_bins)
            sections.append((n_bins, rows))
            text = format_rows(rows, f"{name}: alpha {settings.alpha}, B {n_bins}, cost {settings.cost}, "
                                     f"{train.n_samples} train / {test.n_samples} test samples")
            print(text, flush=True)
            parts += [text, ""]
        line = f"**{name}**: {verdict(sections)}."
        print(line, flush=True)
        parts += [line, ""]
    if args.out:
        atomic_write_text(args.out, "\n".join(parts))


if __name__ == "__main__":
    main()
