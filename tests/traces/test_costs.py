"""The total-ops rule of sparq_gym.traces.costs: hand-worked sums and the ANN fallback."""

from __future__ import annotations

import numpy as np
import pytest

from sparq_gym.traces import COUNTER_NAMES
from sparq_gym.traces.costs import is_ann_counts, total_ops

NAMES = list(COUNTER_NAMES)  # macs, synaptic_ops, spikes, lif_ops, mem_bytes


def test_total_ops_of_a_spiking_network_is_synaptic_plus_lif_ops() -> None:
    # Two samples x two exits. Sample 0: 300 + 200 = 500 at exit 1, 700 + 400 = 1100 at
    # the final head; sample 1: 150 + 200 = 350 and 0 + 400 = 400. MACs, spikes and bytes
    # (the analog first layer's 64 MACs included) are not total ops.
    counts = np.array(
        [
            [[64, 300, 30, 200, 999], [64, 700, 70, 400, 999]],
            [[64, 150, 15, 200, 999], [64, 0, 0, 400, 999]],
        ],
        dtype=np.int64,
    )
    result = total_ops(counts, NAMES)
    assert result.dtype == np.float64 and result.shape == (2, 2)
    np.testing.assert_array_equal(result, [[500.0, 1100.0], [350.0, 400.0]])
    assert not is_ann_counts(counts, NAMES)


def test_total_ops_of_an_ann_is_its_macs() -> None:
    # No synaptic or LIF op anywhere: the AlexNet ANN's 200,515,584 MACs are its total ops.
    counts = np.array([[200_515_584, 0, 0, 0, 4096], [1_000, 0, 0, 0, 8]], dtype=np.int64)
    assert is_ann_counts(counts, NAMES)
    np.testing.assert_array_equal(total_ops(counts, NAMES), [200_515_584.0, 1_000.0])


def test_the_ann_decision_can_be_given() -> None:
    # A spiking row priced as an ANN row (as a report that knows the variant would) and
    # an all-zero row priced as a spiking one.
    row = np.array([64, 300, 30, 200, 999])
    assert float(total_ops(row, NAMES, ann=True)) == 64.0
    assert float(total_ops(np.zeros(5), NAMES, ann=False)) == 0.0


def test_without_macs_zero_counts_stay_zero() -> None:
    names = ["synaptic_ops", "lif_ops"]
    counts = np.zeros((3, 2), dtype=np.int64)
    assert not is_ann_counts(counts, names)
    np.testing.assert_array_equal(total_ops(counts, names), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="'macs'"):
        total_ops(counts, names, ann=True)


def test_missing_counters_are_named() -> None:
    with pytest.raises(ValueError, match=r"needs counters \['lif_ops'\]"):
        total_ops(np.zeros((1, 2)), ["macs", "synaptic_ops"])
