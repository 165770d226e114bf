"""sparq bench-env: every entry measured, ratios computed from the entries of the same run."""

from __future__ import annotations

import pytest

from sparq_gym.envs.registration import DEPTH_TIME_TABLE, ENV_TABLE
from sparq_gym.reports.bench_env import BenchConfig, benchmark_envs, format_table


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


def test_table_shows_the_vector_ratio(result):
    table = format_table(result)
    assert "ratio_vector4096_vs_cartpole_vector4096 = " in table
    assert table.count("\n| ") == len(result["entries"])  # one row per entry below the header
