"""``sparq train``, ``sparq evaluate`` and ``sparq benchmark`` end to end on synthetic traces."""

from __future__ import annotations

import json

import pytest

from sparq_gym.cli import main

ENV = ["--env", "SPARQExit-LeNet-v0", "--traces", "synthetic"]


def test_evaluate_baseline_json(capsys):
    assert main(["evaluate", *ENV, "--policy", "cfg-0.6-0.7", "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("mean_return", "accuracy", "mean_savings", "normalized_score"):
        assert isinstance(result[key], float)
    assert result["n_samples"] == 10_000 and result["split"] == "test"
    assert result["thresholds_text"] == "0.6/0.7"


def test_train_then_evaluate_and_rank(tmp_path, capsys):
    out = tmp_path / "ql"
    assert main(["train", "q-learning", *ENV, "--seed", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    # --env and --traces come from the saved policy; several policies are ranked by mean return
    assert main(["evaluate", "--policy", str(out), "--policy", "always-final", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in results] == [str(out), "always-final"]
    assert {r["traces"] for r in results} == {"synthetic"}
    assert results[0]["normalized_score"] >= 0.9 and results[1]["normalized_score"] == 0.0


def test_unknown_policy_is_a_clear_error(capsys):
    assert main(["evaluate", *ENV, "--policy", "nonsense"]) == 2
    assert "baseline name" in capsys.readouterr().err


def test_benchmark_writes_every_output(tmp_path, capsys):
    out = tmp_path / "bench"
    user = tmp_path / "user_policy.py"
    user.write_text("def policy(observation):\n    return int(observation[1] >= 8)\n")
    code = main(
        [
            "benchmark",
            "--quick",
            "--agents",
            "q-learning",
            "q-learning-gamma1",
            "--out",
            str(out),
            "--envs",
            "SPARQExit-LeNet-v0",
            "--seeds",
            "0",
            "1",
            "--traces",
            "synthetic",
            "--policy",
            str(user),
            "--no-progress",
        ]
    )
    assert code == 0
    for name in (
        "leaderboard.md",
        "results.csv",
        "results.json",
        "accuracy_cost.png",
        "exit_distribution.png",
        "learning_curves.png",
        "performance_profile.png",
    ):
        assert (out / name).stat().st_size > 0, name
    record = json.loads((out / "results.json").read_text())
    policies = {r["policy"] for r in record["aggregate"]}
    assert {"q-learning", "q-learning-gamma1", "exact-optimum", "oracle", str(user)} <= policies
    oracle = next(r for r in record["aggregate"] if r["policy"] == "oracle")
    assert all(r["mean_return"] <= oracle["mean_return"] + 1e-12 for r in record["aggregate"])
    leaderboard = (out / "leaderboard.md").read_text()
    assert "| 1 | oracle |" in leaderboard
    # rliable: IQM [95 % CI] per policy, P(> q-learning), the quick run's seeds and reps said
    assert "IQM [95 % stratified-bootstrap CI, 200 reps]" in leaderboard and "--quick: 3 seeds" in leaderboard
    gamma1 = next(r for r in record["aggregate"] if r["policy"] == "q-learning-gamma1")
    assert gamma1["iqm_ci_low"] <= gamma1["iqm"] <= gamma1["iqm_ci_high"]
    assert 0.0 <= gamma1["probability_of_improvement"] <= 1.0
    assert record["rliable"]["reference"] == "q-learning" and record["rliable"]["reps"] == 200


@pytest.mark.parametrize("argv", [["train", "sarsa", *ENV, "--out", "x"], ["benchmark"]])
def test_bad_arguments_exit_with_usage(argv):
    with pytest.raises(SystemExit):
        main(argv)


def test_bench_q_learning_reports_a_ratio(capsys):
    # a smoke run of the benchmark script (the timing itself is not asserted)
    assert (
        main(["bench-q-learning", "--traces", "synthetic", "--episodes", "300", "--repeats", "1", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 300 and result["ratio_reference_over_fast"] > 0
    assert set(result["seconds"]) == {"fast", "fast_loop", "reference"}


def test_table_policy_with_other_bins_is_rejected(tmp_path, capsys):
    out = tmp_path / "ql20"
    assert main(["train", "q-learning", *ENV, "--n-bins", "20", "--seed", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(out), "--n-bins", "10"]) == 2
    assert "same n_bins" in capsys.readouterr().err
