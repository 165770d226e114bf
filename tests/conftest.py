"""Shared fixtures: tiny hand-made traces whose every reward can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from sparq_gym.traces import COUNTER_NAMES, SCHEMA_VERSION, TraceSet, make_synthetic_traces

# Fuzz profiles (tests/test_fuzz.py): a few examples per property in the default run, many
# under the slow marker. No deadline: a first call may load traces or import torch.
# No example database: nothing is written into the working tree.
settings.register_profile("fuzz", max_examples=12, deadline=None, derandomize=True, database=None)
settings.register_profile("fuzz-slow", max_examples=400, deadline=None, database=None)


def hand_traces() -> TraceSet:
    """Two samples, three exits (two early + final), three classes.

    Sample 0 (label 0): exit1 says 0 with 0.5, exit2 says 1 with 0.75, final says 0 with 1.0.
    Sample 1 (label 2): exit1 says 1 with 0.5 (wrong), exit2 says 2 with 0.875, final says 2
    with 0.5.
    Counts per exit (every counter alike for macs/synaptic/lif): 100, 300, 900; plain network 800.
    """
    probs = np.array(
        [
            [[0.5, 0.25, 0.25], [0.125, 0.75, 0.125], [1.0, 0.0, 0.0]],
            [[0.25, 0.5, 0.25], [0.0625, 0.0625, 0.875], [0.25, 0.25, 0.5]],
        ],
        dtype=np.float16,
    )
    k = len(COUNTER_NAMES)
    per_exit = np.array([100, 300, 900], dtype=np.int64)
    exit_counts = np.repeat(per_exit[None, :, None], 2, axis=0).repeat(k, axis=2)
    # spikes and mem_bytes get other values so that a cost on them differs.
    exit_counts[:, :, COUNTER_NAMES.index("spikes")] = [10, 20, 40]
    exit_counts[:, :, COUNTER_NAMES.index("mem_bytes")] = [1000, 3000, 5000]
    full_counts = np.full((2, k), 800, dtype=np.int64)
    full_counts[:, COUNTER_NAMES.index("spikes")] = 40
    full_counts[:, COUNTER_NAMES.index("mem_bytes")] = 4000
    meta = {
        "schema_version": SCHEMA_VERSION,
        "backbone": "hand",
        "network": "qdsnn",
        "timesteps": 4,
    }
    return TraceSet(
        labels=np.array([0, 2], dtype=np.uint8),
        probs=probs,
        exit_counts=exit_counts,
        full_counts=full_counts,
        sample_ids=np.array([7, 8], dtype=np.int32),
        meta=meta,
        split="train",
    )


@pytest.fixture
def tiny_traces() -> TraceSet:
    """The hand-made two-sample trace set."""
    return hand_traces()


@pytest.fixture
def synthetic_traces() -> TraceSet:
    """A 500-sample synthetic trace set."""
    return make_synthetic_traces(500, seed=1, split="train")
