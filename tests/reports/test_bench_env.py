"""sparq bench-env: every entry measured, ratios computed from the entries of the same run."""

from __future__ import annotations

import pytest

from sparq_gym.envs.registration import DEPTH_TIME_TABLE, ENV_TABLE
from sparq_gym.reports.bench_env import (
    BenchConfig,
    benchmark_envs,
    format_profile,
    format_table,
    profile_steps,
)


@pytest.fixture(scope="module")
def result():
    config = BenchConfig(single_steps=200, vector_steps=64, vector_sizes=(1, 8), repeats=1)
    return benchmark_envs(config)


def test_ratios_are_quotients_of_the_entries(result):
    rate = {entry["name"]: entry["steps_per_second"] for entry in result["entries"]}
    reference = ENV_TABLE[-1].env_id
    slowest = min(rate[f"{entry.env_id} (gym.make)"] for entry in ENV_TABLE)
    assert result["ratio_make_vs_cartpole"] == pytest.approx(slowest / rate["CartPole-v1 (gym.make)"])
    assert result["ratio_vector4096_vs_cartpole_vector4096"] == pytest.approx(
        rate[f"{reference} vector x8"] / rate["CartPole-v1 vector x8"]
    )
    slowest_time = min(rate[f"{entry.env_id} (gym.make)"] for entry in DEPTH_TIME_TABLE)
    assert result["ratio_make_depth_time_vs_cartpole"] == pytest.approx(
        slowest_time / rate["CartPole-v1 (gym.make)"]
    )
    assert result["ratio_depth_time_vector4096_vs_cartpole_vector4096"] == pytest.approx(
        rate[f"{DEPTH_TIME_TABLE[-1].env_id} vector x8"] / rate["CartPole-v1 vector x8"]
    )
    assert result["ratio_vector4096_vs_cartpole"] == pytest.approx(
        rate[f"{reference} vector x8"] / rate["CartPole-v1 (gym.make)"]
    )


def test_result_says_how_quiet_the_machine_was(result):
    machine = result["machine"]
    assert len(machine["load_average_before"]) == len(machine["load_average_after"]) == 3
    assert all(load >= 0 for load in machine["load_average_before"] + machine["load_average_after"])


def test_table_shows_the_vector_ratio(result):
    table = format_table(result)
    assert "ratio_vector4096_vs_cartpole_vector4096 = " in table
    assert table.count("\n| ") == len(result["entries"])  # one row per entry below the header


def test_missing_shipped_traces_are_an_error_not_a_substitution(monkeypatch, tmp_path):
    from sparq_gym.errors import TraceNotFoundError

    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    with pytest.raises(TraceNotFoundError, match="--traces synthetic"):
        benchmark_envs(BenchConfig(single_steps=30, vector_steps=8, vector_sizes=(2,), repeats=1))


def test_synthetic_traces_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    config = BenchConfig(single_steps=30, vector_steps=8, vector_sizes=(2,), repeats=1,
                         traces="synthetic", synthetic_samples=50)
    result = benchmark_envs(config)
    assert set(result["trace_sources"].values()) == {"synthetic"}


def test_profile_names_every_part_of_a_step():
    parts = profile_steps(num_envs=64, steps=20, repeats=1, single_calls=200)
    assert set(parts) == {"vector_step", "action_check", "exit_step", "observation", "ended_and_draws",
                          "step_arrays", "single_reset", "single_continue", "single_last_step"}
    assert all(parts[key] > 0 for key in ("vector_step", "exit_step", "observation", "single_reset"))
    assert sum(parts[k] for k in ("action_check", "exit_step", "observation", "ended_and_draws")) > 0
    assert f"takes {parts['vector_step']:.0f} µs" in format_profile(parts, 64)
