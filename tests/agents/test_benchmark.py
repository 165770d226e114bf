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
    cfg = BenchmarkConfig(
        out=str(tmp_path / "b"),
        envs=("SPARQExit-MLP-v0",),
        seeds=(0,),
        agents=(),
        baselines=("always-final", "exact-optimum"),
        plots=False,
        progress=False,
        bootstrap_reps=10,
        networks=("qdsnn", "multilevel"),
    )
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
        "qdsnn",
        "multilevel",
    ]


def test_benchmark_ranks_a_depth_time_id_with_its_references_fronts_and_anchors(tmp_path):
    """The depth x time family in the benchmark: its references, its anchors stated, its fronts."""
    import json

    from agents.benchmark.run import BenchmarkConfig, run_benchmark
    from agents.references.registry import REFERENCE_NAMES

    env_id = "SPARQDepthTime-MLP-v0"
    cfg = BenchmarkConfig(
        out=str(tmp_path / "b"),
        envs=(env_id,),
        seeds=(0,),
        agents=("q-learning",),
        traces="synthetic",
        optimum_seconds=0,
        plots=True,
        progress=False,
        bootstrap_reps=10,
    )
    record = run_benchmark(cfg)
    policies = {row["policy"] for row in record["aggregate"]}
    assert policies == {*REFERENCE_NAMES["depth_time"], "q-learning"}
    board = (tmp_path / "b" / "leaderboard.md").read_text()
    anchors = record["meta"]["anchors"][env_id]
    assert (
        f"always-final {anchors['always_final']:.4f}, exact-optimum {anchors['exact_optimum']:.4f}" in board
    )
    assert anchors["exact_optimum_status"].startswith("MILP not run (optimum_seconds 0): best known table: ")
    # the best known table is the best tuned table on train: no tuned reference earns more there
    from agents.common import EnvConfig
    from agents.references.registry import exact_optimum_of

    config = EnvConfig(env_id, traces="synthetic", optimum_seconds=0)
    best = exact_optimum_of(config).train_return
    for name in ("kt-thresholds", "time-only", "depth-only"):
        assert evaluate_train(config, name) <= best + 1e-12
    rows = {row["policy"]: row for row in record["aggregate"]}
    assert (
        rows["always-final"]["normalized_score"] == 0.0 and rows["exact-optimum"]["normalized_score"] == 1.0
    )
    assert rows["always-final"]["mean_timesteps"] == 4.0  # WAIT to T, then the final head
    fronts = json.loads((tmp_path / "b" / "results.json").read_text())["fronts"][env_id]
    assert set(fronts) == {"depth-only", "time-only"}
    for front in fronts.values():  # cheaper -> less accurate along each front
        ops = [p["mean_total_ops"] for p in front]
        assert ops == sorted(ops) and [p["accuracy"] for p in front] == sorted(p["accuracy"] for p in front)
    assert (tmp_path / "b" / "accuracy_cost.png").stat().st_size > 0


def evaluate_train(config, name):
    from agents.evaluation import evaluate_policy
    from agents.references.registry import make_reference

    return evaluate_policy(make_reference(name, config), config, "train")["mean_return"]


def test_parallel_runs_give_the_serial_rows(tmp_path):
    from agents.benchmark.run import BenchmarkConfig, run_benchmark

    def rows(jobs):
        cfg = BenchmarkConfig(
            out=str(tmp_path / f"j{jobs}"),
            envs=("SPARQExit-LeNet-v0",),
            seeds=(0, 1),
            agents=("q-learning",),
            baselines=("random", "static-threshold"),
            traces="synthetic",
            plots=False,
            progress=False,
            bootstrap_reps=10,
            jobs=jobs,
        )
        keep = ("policy", "seed", "mean_return", "accuracy", "exit_distribution")
        return [{k: r[k] for k in keep} for r in run_benchmark(cfg)["runs"]]

    assert rows(1) == rows(2)


def test_a_zip_that_records_no_environment_is_refused_before_any_run(tmp_path):
    import pytest
    from stable_baselines3 import PPO

    import sparq_gym  # noqa: F401
    from agents.benchmark.run import BenchmarkConfig, run_benchmark
    from agents.common import EnvConfig
    from sparq_gym.errors import ConfigError

    env = EnvConfig("SPARQExit-LeNet-v0", traces="synthetic").make_env("train")
    archive = tmp_path / "bare.zip"
    PPO("MlpPolicy", env, n_steps=16, batch_size=16, device="cpu").save(archive)
    given = {"envs": ("SPARQExit-LeNet-v0",), "seeds": (0,), "agents": (), "traces": "synthetic"}
    cfg = BenchmarkConfig(out=str(tmp_path / "b"), extra_policies=(str(archive),), plots=False, **given)
    with pytest.raises(ConfigError, match="the zip records no environment"):
        run_benchmark(cfg)
    assert not (tmp_path / "b").exists()
