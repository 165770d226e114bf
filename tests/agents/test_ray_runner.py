"""The benchmark's runs as Ray tasks (agents/ray_runner.py): same rows as the serial loop, retries, failures.

The tests that need a cluster are slow (``pytest -m slow``: starting Ray alone takes about
10 s on two cores): one local Ray (2 CPUs, no dashboard) serves them all and is shut down
after them; the last runs the issue's command (LeNet, q-learning and DQN, seeds 0 and 1)
both ways.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.benchmark.run import BenchmarkConfig, run_benchmark
from agents.integrations.ray_runner import MAX_RETRIES, FailedRunsError, TaskFailure, run_tasks, start_ray
from sparq_gym.errors import ConfigError

ray = pytest.importorskip("ray")

_TIMINGS = ("wall_time_s",)
"""Run keys that measure time, not results: the only ones allowed to differ between the two ways."""


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray for the module (2 CPUs), shut down after it.

    The task bodies below travel by value: the workers cannot import a test module.
    """
    assert not ray.is_initialized()
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _without_timings(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in run.items() if k not in _TIMINGS} for run in runs]


def _scaled(task: int, shared: Any) -> tuple[int, float, bool]:
    """Task body of the tests: the task times the shared array's sum, and whether it is read-only."""
    return task, float(task * shared.sum()), not shared.flags.writeable


def _fails_once(task: str, folder: str) -> str:
    """Fails on the first try of each task (a marker file remembers it), succeeds on the retry."""
    marker = Path(folder) / f"{task}.tried"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError(f"first try of {task}")
    return task.upper()


def _dies_once(task: str, folder: str) -> str:
    """Kills its worker process on the first try (a crash, not an exception), succeeds on the retry."""
    marker = Path(folder) / f"{task}.died"
    if not marker.exists():
        marker.write_text("1")
        os._exit(1)
    return task.upper()


def _always_fails(task: str, folder: str) -> str:
    """Counts its tries in a file and always fails."""
    log = Path(folder) / f"{task}.tries"
    log.write_text(log.read_text() + "x" if log.exists() else "x")
    raise RuntimeError(f"{task} is broken")


def test_bad_address_is_a_config_error():
    with pytest.raises(ConfigError, match="--ray"):
        start_ray("")


def test_failed_runs_error_names_every_run():
    failed = [
        {"env_id": "SPARQExit-LeNet-v0", "kind": "agent", "policy": "dqn", "seed": 1, "error": "E: boom"},
        {"env_id": "SPARQExit-MLP-v0", "kind": "user", "policy": "x.py", "seed": 0, "error": "F: no"},
    ]
    message = str(FailedRunsError(failed, "runs/b"))
    assert "2 benchmark run(s) failed" in message
    assert "SPARQExit-LeNet-v0 dqn seed 1 (E: boom)" in message and "SPARQExit-MLP-v0 x.py seed 0" in message
    assert "runs/b" in message


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_tasks_come_back_in_order_with_the_shared_data_from_the_object_store(local_ray):
    shared = {"a": np.arange(4.0), "b": np.ones(3)}  # sums 6 and 3
    tasks = [3, 1, 2, 5]
    results = run_tasks(_scaled, tasks, shared, key_of=lambda t: "a" if t % 2 else "b", progress=False)
    assert [r[:2] for r in results] == [(3, 18.0), (1, 6.0), (2, 6.0), (5, 30.0)]
    assert all(r[2] for r in results)  # read-only: the workers read the one copy in the object store


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_a_failed_try_is_retried(local_ray, tmp_path):
    results = run_tasks(_fails_once, ["x", "y"], {0: str(tmp_path)}, key_of=lambda t: 0, progress=False)
    assert results == ["X", "Y"]


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_a_task_whose_worker_dies_is_retried(local_ray, tmp_path):
    results = run_tasks(_dies_once, ["z"], {0: str(tmp_path)}, key_of=lambda t: 0, progress=False)
    assert results == ["Z"] and (tmp_path / "z.died").exists()


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_a_task_failing_every_try_is_reported_not_dropped(local_ray, tmp_path):
    results = run_tasks(
        _always_fails, ["bad"], {0: str(tmp_path)}, key_of=lambda t: 0, progress=False, max_retries=1
    )
    assert len(results) == 1 and isinstance(results[0], TaskFailure)
    assert results[0].task == "bad" and "bad is broken" in results[0].error
    assert (tmp_path / "bad.tries").read_text() == "xx"  # the first try and one retry


def _config(out: Path, **values: Any) -> BenchmarkConfig:
    return BenchmarkConfig(
        out=str(out),
        envs=("SPARQExit-LeNet-v0",),
        seeds=(0, 1),
        agents=("q-learning",),
        baselines=("always-final", "exact-optimum", "random", "cfg-0.6-0.7"),
        traces="synthetic",
        plots=False,
        progress=False,
        bootstrap_reps=20,
        **values,
    )


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_ray_benchmark_writes_the_serial_runs(local_ray, tmp_path):
    serial = run_benchmark(_config(tmp_path / "serial"))
    on_ray = run_benchmark(_config(tmp_path / "ray", ray="local"))
    assert len(on_ray["runs"]) == len(serial["runs"]) == 3 + 2 + 2  # baselines, random x 2, q-learning x 2
    assert _without_timings(on_ray["runs"]) == _without_timings(serial["runs"])
    assert on_ray["learning_curves"] == serial["learning_curves"]
    assert ray.is_initialized()  # a Ray that was already running is left running


@pytest.mark.slow  # starts a local Ray (about 10 s, 25 s for the module)
def test_ray_benchmark_reports_a_failed_run_and_writes_the_others(local_ray, tmp_path):
    cfg = _config(tmp_path / "out", ray="local", extra_policies=("no_such_module_xyz:Policy",))
    with pytest.raises(FailedRunsError, match=r"SPARQExit-LeNet-v0 no_such_module_xyz:Policy seed 0"):
        run_benchmark(cfg)
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [run["policy"] for run in record["failed_runs"]] == ["no_such_module_xyz:Policy"]
    assert "cannot import module" in record["failed_runs"][0]["error"]
    assert len(record["runs"]) == 7  # every other run is there
    assert MAX_RETRIES >= 1


@pytest.mark.slow
def test_issue_command_on_local_ray_writes_the_serial_runs(tmp_path):
    """The issue's check: ``sparq benchmark --quick --envs SPARQExit-LeNet-v0 --agents q-learning dqn
    --seeds 0 1``, serial and with ``--ray local``."""
    import torch

    threads, running = torch.get_num_threads(), ray.is_initialized()
    torch.set_num_threads(1)  # as the command's --threads 1
    try:
        runs = {}
        for mode in (None, "local"):
            cfg = BenchmarkConfig(
                out=str(tmp_path / str(mode)),
                envs=("SPARQExit-LeNet-v0",),
                seeds=(0, 1),
                agents=("q-learning", "dqn"),
                quick=True,
                plots=False,
                progress=False,
                ray=mode,
            )
            runs[mode] = json.loads((Path(run_benchmark(cfg) and cfg.out) / "results.json").read_text())
    finally:
        torch.set_num_threads(threads)
    assert ray.is_initialized() == running  # --ray local shuts down the Ray it started, and only it
    assert _without_timings(runs["local"]["runs"]) == _without_timings(runs[None]["runs"])
    assert {run["policy"] for run in runs["local"]["runs"]} >= {"q-learning", "dqn"}
