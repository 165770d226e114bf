"""rliable statistics of the benchmark: IQM, stratified-bootstrap CIs, probability of improvement."""

from __future__ import annotations

import numpy as np
import pytest

from agents.benchmark.statistics import (
    interquartile_mean,
    probability_of_improvement,
    rliable_statistics,
    score_distribution,
    score_matrices,
)

metrics = pytest.importorskip("rliable.metrics")


def _rows(policy: str, env_id: str, scores: list[float]) -> list[dict]:
    return [
        {"policy": policy, "env_id": env_id, "seed": seed, "normalized_score": value}
        for seed, value in enumerate(scores)
    ]


@pytest.mark.parametrize("shape", [(3, 1), (5, 1), (5, 3), (1, 2)])
def test_fast_metrics_equal_rliables(shape):
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 4, size=shape).astype(float)  # ties included
        y = rng.integers(0, 4, size=(4, shape[1])).astype(float)
        assert interquartile_mean(x) == pytest.approx(metrics.aggregate_iqm(x))
        assert probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y))


def test_score_distribution_equals_rliables():
    library = pytest.importorskip("rliable.library")
    scores = np.random.default_rng(1).normal(size=(5, 3))
    taus = np.linspace(-2, 2, 41)
    assert np.allclose(score_distribution(scores, taus), library.score_distributions(scores, taus))
    two_runs = np.array([[0.0], [1.0]])
    assert score_distribution(two_runs, np.array([-1.0, 0.0, 0.5, 1.0])).tolist() == [1, 0.5, 0.5, 0]


def test_hand_worked_iqm_and_improvement():
    # 5 runs 0..4: the IQM drops one run at each end, (1 + 2 + 3) / 3 = 2. "better" beats every
    # q-learning run (P = 1); "same" equals it run for run (P = 1/2).
    rows = (
        _rows("q-learning", "A", [0.0, 1.0, 2.0, 3.0, 4.0])
        + _rows("better", "A", [5.0, 6.0, 7.0, 8.0, 9.0])
        + _rows("same", "A", [0.0, 1.0, 2.0, 3.0, 4.0])
        + _rows("constant", "A", [2.5])
    )
    stats = rliable_statistics(rows, ["A"], reps=300, seed=1)
    table = stats["per_env"]["A"]
    assert table["q-learning"]["iqm"] == 2.0 and "probability_of_improvement" not in table["q-learning"]
    low, high = table["q-learning"]["iqm_ci"]
    assert 0.0 <= low <= 2.0 <= high <= 4.0
    assert table["better"]["probability_of_improvement"] == 1.0
    assert table["better"]["probability_of_improvement_ci"] == [1.0, 1.0]
    assert table["same"]["probability_of_improvement"] == 0.5
    assert table["constant"]["iqm_ci"] == [2.5, 2.5]  # one run: a zero-width interval
    assert table["constant"]["probability_of_improvement"] == pytest.approx(3 / 5)  # beats 0, 1, 2


def test_bootstrap_is_reproducible_and_leaves_the_global_generator_alone():
    rows = _rows("q-learning", "A", [0.1, 0.5, 0.2]) + _rows("ppo", "A", [0.3, 0.4, 0.9])
    np.random.seed(123)  # noqa: NPY002  (the legacy global generator is what is checked)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    first = rliable_statistics(rows, ["A"], reps=200, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert rliable_statistics(rows, ["A"], reps=200, seed=0) == first
    assert rliable_statistics(rows, ["A"], reps=200, seed=1) != first


def test_overall_takes_policies_run_on_every_environment():
    rows = _rows("q-learning", "A", [1.0, 2.0]) + _rows("q-learning", "B", [3.0, 4.0])
    rows += _rows("zip", "A", [5.0])
    matrices = score_matrices(rows, ["A", "B"])
    assert list(matrices) == ["q-learning"] and matrices["q-learning"].tolist() == [[1.0, 3.0], [2.0, 4.0]]
    stats = rliable_statistics(rows, ["A", "B"], reps=100)
    assert set(stats["overall"]) == {"q-learning"} and set(stats["per_env"]["A"]) == {"q-learning", "zip"}
