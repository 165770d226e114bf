"""Reference policies of the depth x time env: the MILP against brute force, and the others."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agents.references.baselines import tune_static_thresholds
from agents.references.exact_milp import build_nodes, provable_exits, solve_depth_time_optimum
from agents.references.time_thresholds import (
    depth_only_table,
    oracle_result,
    reference_numbers,
    rollout_table,
    summarize,
    tune_kt_thresholds,
    tune_time_only,
)
from sparq_gym.envs.core import build_exit_tables
from sparq_gym.envs.depth_time_core import build_depth_time_tables
from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.traces.timeset import make_synthetic_time_traces


def _tables(traces, n_bins):
    return build_depth_time_tables(
        traces, alpha=0.3, n_bins=n_bins, cost="total_ops", obs_type="multidiscrete"
    )


def _brute_force(tables, exit_cells=()):
    """Best mean return over every valid table (E, T, B); ``exit_cells`` (flat cell indices)
    forced to EXIT."""
    e, t, b = tables.n_exits, tables.n_timesteps, tables.n_bins
    choices = []
    for k, tau in itertools.product(range(e), range(t)):
        valid = [a for a, ok in ((0, k < e - 1), (1, True), (2, tau < t - 1)) if ok]
        choices.extend([valid] * b)
    for cell in exit_cells:
        choices[cell] = [1]
    rows = np.arange(tables.n_samples)
    best = -np.inf
    for combo in itertools.product(*choices):
        table = np.array(combo, dtype=np.int64).reshape(e, t, b)
        best = max(best, tables.reward_exit[rows, rollout_table(tables, table)].mean())
    return best


@pytest.mark.parametrize(
    ("n_exits", "n_timesteps", "n", "seed"), [(2, 2, 12, 0), (2, 3, 9, 1), (3, 2, 10, 2)]
)
def test_milp_matches_brute_force(n_exits, n_timesteps, n, seed):
    traces = make_synthetic_time_traces(n, n_exits=n_exits, n_timesteps=n_timesteps, n_classes=3, seed=seed)
    tables = _tables(traces, 2)
    optimum = solve_depth_time_optimum(tables)
    assert optimum.optimal and optimum.bound == optimum.value
    value = tables.reward_exit[np.arange(n), rollout_table(tables, optimum.actions)].mean()
    assert value == pytest.approx(optimum.value, abs=1e-9)
    assert optimum.value == pytest.approx(_brute_force(tables), abs=1e-9)


@pytest.mark.parametrize(
    ("n_exits", "n_timesteps", "n", "seed"), [(2, 2, 14, 3), (3, 2, 10, 4), (2, 3, 9, 5)]
)
def test_provable_exits_keep_the_optimum(n_exits, n_timesteps, n, seed):
    """Forcing EXIT at the cells provable_exits names does not lower the brute-force optimum."""
    traces = make_synthetic_time_traces(n, n_exits=n_exits, n_timesteps=n_timesteps, n_classes=3, seed=seed)
    tables = _tables(traces, 2)
    cells = np.flatnonzero(provable_exits(build_nodes(tables), n_exits * n_timesteps * 2))
    assert cells.size  # the check is about something
    assert _brute_force(tables, cells) == pytest.approx(_brute_force(tables), abs=1e-12)


def test_rollout_table_agrees_with_the_env():
    traces = make_synthetic_time_traces(40, seed=3)
    tables = _tables(traces, 10)
    rng = np.random.default_rng(0)
    scores = rng.random((3, 4, 10, 3))
    scores[-1, :, :, 0] = scores[:, -1, :, 2] = -1  # masked: CONTINUE at the final head, WAIT at T
    table = scores.argmax(axis=3)
    states = rollout_table(tables, table)
    env = SPARQDepthTimeEnv(traces=traces)
    for sample in range(traces.n_samples):
        obs, _ = env.reset(options={"sample_index": sample})
        done = False
        while not done:
            k, tau, b = obs.tolist()
            obs, reward, done, _, _ = env.step(int(table[k, tau, b]))
        assert reward == tables.reward_exit[sample, states[sample]]


def test_depth_only_equals_v0_static_thresholds_on_train():
    traces = make_synthetic_time_traces(200, seed=5, split="train")
    tables = _tables(traces, 10)
    v0 = build_exit_tables(traces.to_v0(), alpha=0.3, n_bins=10, cost="total_ops", obs_type="multidiscrete")
    _, v0_value = tune_static_thresholds(v0, 10)
    table = depth_only_table(traces, tables, ExitSettings())
    assert summarize("d", tables, rollout_table(tables, table)).mean_return == pytest.approx(
        v0_value, abs=1e-12
    )
    assert summarize("d", tables, rollout_table(tables, table)).mean_timesteps == traces.n_timesteps


def test_ordering_of_the_reference_policies_on_train():
    traces = make_synthetic_time_traces(120, seed=6, split="train")
    tables = _tables(traces, 4)
    rows = np.arange(traces.n_samples)

    def value(table):
        return tables.reward_exit[rows, rollout_table(tables, table)].mean()

    settings = ExitSettings(n_bins=4)
    depth = depth_only_table(traces, tables, settings)
    time_table, theta = tune_time_only(tables)
    kt = tune_kt_thresholds(tables, depth)
    optimum = solve_depth_time_optimum(tables)
    oracle = oracle_result(tables).mean_return
    assert value(kt) >= value(depth) - 1e-12
    assert optimum.value >= max(value(kt), value(time_table), value(depth)) - 1e-9
    assert oracle >= optimum.value
    assert 0 <= theta <= 1
    assert (time_table[-1, -1] == 1).all() and (time_table[:-1, 0] == 0).all()


def test_reference_numbers_rows():
    train = make_synthetic_time_traces(60, seed=0, split="train")
    test = make_synthetic_time_traces(50, seed=1, split="test")
    rows = reference_numbers(train, test, ExitSettings(n_bins=3), time_limit=60)
    assert [r["name"] for r in rows] == [
        "oracle",
        "depth-only",
        "time-only",
        "kt-thresholds",
        "exact-optimum",
    ]
    assert all(rows[0]["mean_return"] >= r["mean_return"] for r in rows)
    assert rows[-1]["train_return"] >= max(r["train_return"] for r in rows[1:-1]) - 1e-9


def test_verdict_counts_only_proven_optima_against_the_best_threshold_rows():
    from agents.references.time_thresholds import verdict

    def row(name, value, **extra):
        return {"name": name, "mean_return": value, **extra}

    b5 = [row("depth-only", 0.80), row("time-only", 0.85), row("exact-optimum", 0.88, proven=True)]
    b10 = [row("depth-only", 0.83), row("time-only", 0.86), row("exact-optimum", 0.90, proven=False)]
    text = verdict([(5, b5), (10, b10)])
    assert "proven optimum at B = 5: test 0.8800" in text and "beats both" in text
    assert "best depth-only 0.8300 (B = 10)" in text and "best time-only 0.8600 (B = 10)" in text
    b10[1] = row("time-only", 0.89)  # a threshold policy at another B above the proven table
    assert "does not beat both" in verdict([(5, b5), (10, b10)])
    assert verdict([(10, b10)]).startswith("no proven optimum")


def test_main_writes_every_section_and_the_verdict(tmp_path, capsys):
    from agents.references.time_thresholds import main

    out = tmp_path / "optimum.md"
    main(["--synthetic", "40", "--n-bins", "2", "3", "--optimum-bins", "2", "--time-limit", "30",
          "--out", str(out)])
    text = out.read_text()
    assert text.count("### synthetic") == 2 and text.count("| exact-optimum |") == 1
    assert "**synthetic**: proven optimum at B = 2" in text
    assert "**synthetic**: proven optimum at B = 2" in capsys.readouterr().out
