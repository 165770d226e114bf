"""The threshold Pareto front of the benchmark's accuracy-cost plot."""

from __future__ import annotations

from agents.benchmark.fronts import accuracy_cost_fronts


def threshold_front(config):
    return accuracy_cost_fronts(config)["threshold pairs"]


def test_front_is_the_non_dominated_threshold_pairs(lenet_config):
    result = threshold_front(lenet_config)
    points, front = result["points"], result["front"]
    assert len(points) == 11 * 11
    ops = [p["mean_total_ops"] for p in front]
    accuracy = [p["accuracy"] for p in front]
    assert ops == sorted(ops) and accuracy == sorted(accuracy)  # cheaper -> less accurate
    for point in points:  # every pair is matched or beaten on both axes by a front point
        assert any(
            f["mean_total_ops"] <= point["mean_total_ops"] and f["accuracy"] >= point["accuracy"]
            for f in front
        )
    assert front[0]["mean_total_ops"] == min(p["mean_total_ops"] for p in points)


def test_hand_front(hand_config):
    # Total ops (synaptic + LIF) per exit are 200 / 600 / 1800 (tests/conftest.py). Both
    # samples sit in bin 5 at exit 1, so a threshold pair stops both there (200 ops, sample 1
    # wrong) or neither; the best of the rest sends sample 0 (conf 0.75) to the final head
    # and exits sample 1 (conf 0.875) at exit 2: (1800 + 600) / 2 = 1200 ops, both right.
    front = threshold_front(hand_config)["front"]
    assert [(p["mean_total_ops"], p["accuracy"]) for p in front] == [(200.0, 0.5), (1200.0, 1.0)]


def test_benchmark_ranks_policies_on_each_network(tmp_path):
    """``networks``: every variant is its own leaderboard section, named by id and network."""
    import json

    import pytest

    from agents.benchmark.run import BenchmarkConfig, env_label, run_benchmark
    from sparq_gym.paths import trace_dir

    if not (trace_dir("mlp", "multilevel") / "test.npz").exists():
        pytest.skip("no shipped multilevel traces for MLP")
    cfg = BenchmarkConfig(out=str(tmp_path / "b"), envs=("SPARQExit-MLP-v0",), seeds=(0,), agents=(),
                          baselines=("always-final", "exact-optimum"), plots=False, progress=False,
                          bootstrap_reps=10, networks=("qdsnn", "multilevel"))
    record = run_benchmark(cfg)
    labels = {row["env_id"]: row["network"] for row in record["aggregate"]}
    assert labels == {"SPARQExit-MLP-v0": "qdsnn", "SPARQExit-MLP-v0[multilevel]": "multilevel"}
    assert env_label("SPARQExit-MLP-v0", "multilevel") == "SPARQExit-MLP-v0[multilevel]"
    board = (tmp_path / "b" / "leaderboard.md").read_text()
    assert "## SPARQExit-MLP-v0[multilevel] (traces: pretrained; network: multilevel)" in board
    finals = {r["network"]: r["accuracy"] for r in record["aggregate"] if r["policy"] == "always-final"}
    # always-final is the final head's accuracy of each network's test traces
    from sparq_gym.traces import TraceSet

    for network, accuracy in finals.items():
        traces = TraceSet.load(trace_dir("mlp", network), "test")
        assert accuracy == pytest.approx(float(traces.accuracy_per_exit()[-1]))
    assert json.loads((tmp_path / "b" / "results.json").read_text())["meta"]["config"]["networks"] == [
        "qdsnn", "multilevel"]
