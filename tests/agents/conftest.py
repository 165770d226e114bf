"""Fixtures for the agent tests: the hand-made traces as a trace directory, and synthetic configs."""

from __future__ import annotations

import dataclasses

import pytest

from agents.common import EnvConfig
from sparq_gym.traces import TraceSet


@pytest.fixture
def hand_config(tiny_traces: TraceSet, tmp_path) -> EnvConfig:
    """``SPARQExit-v0`` over the two hand-made samples of tests/conftest.py, as train and test."""
    directory = tmp_path / "hand_traces"
    tiny_traces.save(directory)
    dataclasses.replace(tiny_traces, split="test").save(directory)
    return EnvConfig(env_id="SPARQExit-v0", trace_dir=str(directory))


@pytest.fixture
def lenet_config() -> EnvConfig:
    """Synthetic LeNet-shaped traces (5,000 train, 10,000 test samples)."""
    return EnvConfig(env_id="SPARQExit-LeNet-v0", traces="synthetic")
