"""LazyInfo: a dict built on first use that reads like the dict it stands for."""

from __future__ import annotations

import copy
import pickle

import numpy as np

from sparq_gym.envs.info import LazyInfo


def _lazy(calls: list[int]) -> LazyInfo:
    def build() -> dict:
        calls.append(1)
        return {"a": np.arange(3), "b": 2}

    return LazyInfo(build)


def test_not_built_until_read_and_built_once():
    calls: list[int] = []
    info = _lazy(calls)
    assert calls == []
    assert sorted(info) == ["a", "b"] and info["b"] == 2 and len(info) == 2
    assert calls == [1]


def test_every_way_of_reading_sees_the_entries():
    for read in (dict, lambda d: {**d}, lambda d: dict(d.items()), copy.copy, copy.deepcopy,
                 lambda d: pickle.loads(pickle.dumps(d))):
        result = read(_lazy([]))
        assert type(result) is dict and set(result) == {"a", "b"} and result["b"] == 2
    scalars = LazyInfo(lambda: {"b": 2})
    assert {"b": 2} == scalars and scalars == {"b": 2}  # comparison fills before it compares
    assert LazyInfo(lambda: {"b": 2}) != {"b": 3}
    assert "a" in _lazy([]) and _lazy([]).get("b") == 2


def test_writes_land_after_the_build():
    info = _lazy([])
    info["c"] = 3
    assert info["c"] == 3 and info["b"] == 2
