"""The threshold Pareto front of the benchmark's accuracy-cost plot."""

from __future__ import annotations

from agents.benchmark import threshold_front


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
