"""The native depth x time vector env: action masks and the sample_index option.

Its transitions are checked against SyncVectorEnv with v0's, in ``test_vector_env.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sparq_gym.envs.depth_time_vector_env import SPARQDepthTimeVectorEnv
from sparq_gym.envs.exit_env import InvalidActionError
from sparq_gym.traces.timeset import make_synthetic_time_traces


def test_masked_action_raises_and_sample_option():
    traces = make_synthetic_time_traces(30, seed=0)
    lenient = SPARQDepthTimeVectorEnv(2, traces=traces)
    lenient.reset(seed=0, options={"sample_index": [3, 4]})
    for _ in range(traces.n_timesteps - 1):
        lenient.step(np.array([2, 2]))
    _, masked_reward, terminated, _, info = lenient.step(np.array([2, 1]))  # WAIT at t = T: EXIT
    assert terminated.all() and info["invalid_action"].tolist() == [True, False]
    assert info["timesteps"].tolist() == [traces.n_timesteps] * 2
    native = SPARQDepthTimeVectorEnv(2, traces=traces, invalid_action="raise")
    native.reset(seed=0, options={"sample_index": [3, 4]})
    for _ in range(traces.n_timesteps - 1):
        native.step(np.array([2, 2]))
    with pytest.raises(InvalidActionError, match="masked"):
        native.step(np.array([2, 1]))
    with pytest.raises(InvalidActionError):
        native.step(np.array([3, 1]))
    _, reward, terminated, _, info = native.step(np.array([1, 1]))
    assert reward.tolist() == masked_reward.tolist()
    assert ((reward == -1) | (reward > 1)).all()
    assert terminated.all() and info["timesteps"].tolist() == [traces.n_timesteps] * 2
    assert info["sample_index"].tolist() == [3, 4]
