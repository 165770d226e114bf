"""Independent runs as Ray tasks: on a local Ray or on any cluster, with retries and a progress bar.

The benchmark (``sparq benchmark --ray ADDRESS``) hands its list of runs to
:func:`run_tasks`: every run becomes one Ray task, the data the runs share
(an environment's traces and tables) is put in Ray's object store once per
key (:func:`ray.put`) and every task receives a reference to it, never a copy
of its own. ``ADDRESS`` is ``local`` (start a Ray on this machine,
:data:`RAY_LOCAL`) or the address of a running cluster (``ray start --head``
prints it, e.g. ``192.168.1.10:6379``; ``auto`` finds the one this machine
belongs to). See ``docs/ray.md``.

A task that raises, or whose worker dies, is retried ``max_retries`` times;
one that still fails comes back as a :class:`TaskFailure` in its place: the
caller decides how to report it (the benchmark writes the other runs and
exits non-zero naming the failed ones). Nothing is dropped silently.

Ray is an optional dependency (``pip install -e ".[ray]"``); this module
imports it only inside its functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sparq_gym.errors import ConfigError, SparqError

__all__ = [
    "MAX_RETRIES",
    "RAY_LOCAL",
    "FailedRunsError",
    "TaskFailure",
    "add_ray_argument",
    "code_modules",
    "ray_session",
    "run_benchmark_tasks",
    "run_tasks",
    "start_ray",
]

RAY_LOCAL = "local"
"""The ``--ray`` value that starts a Ray on this machine (any other value is a cluster address)."""

MAX_RETRIES = 2
"""Times a failed task is run again before it is reported as failed."""

_Task = TypeVar("_Task")


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed on every try.

    :param task: the task as the caller gave it.
    :param error: the last error, one line (type and message).
    """

    task: Any
    error: str


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray [ADDRESS]`` to a command: a bare ``--ray`` is ``--ray local``; absent, ``None``."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const=RAY_LOCAL,
        default=None,
        metavar="ADDRESS",
        help="run every run as a Ray task: 'local' (also a bare --ray) starts Ray here, "
        "HOST:PORT or 'auto' joins a cluster (needs the [ray] extra; docs/ray.md)",
    )


def _require_ray() -> Any:
    """Import :mod:`ray`, or raise a :class:`~sparq_gym.errors.ConfigError` naming the extra to install."""
    try:
        import ray
    except ImportError as err:
        raise ConfigError(
            f"--ray needs Ray ({err}); install the optional extra: pip install -e \".[ray]\""
        ) from err
    return ray


def code_modules() -> list[str]:
    """The folders of the project's packages (``sparq_gym``, ``agents``), shipped to a cluster's workers."""
    import agents
    import sparq_gym

    return [str(Path(str(module.__file__)).resolve().parent) for module in (sparq_gym, agents)]


def start_ray(address: str, *, num_cpus: int | None = None) -> bool:
    """Connect to Ray: start a local one (``address="local"``) or join the cluster at ``address``.

    A local Ray uses ``num_cpus`` CPUs (``None``: all of this machine's) and no
    dashboard. Joining a cluster ships the project's code to its workers
    (:func:`code_modules`, as the job's ``py_modules``); the Python packages
    the project needs (numpy, gymnasium, torch, stable-baselines3) must be
    installed on every node. Returns ``True`` when this call connected, and
    ``False`` when Ray was already initialised (the caller then leaves it running).
    """
    ray = _require_ray()
    if not isinstance(address, str) or not address:
        raise ConfigError(f"ray (--ray) must be 'local' or a cluster address (HOST:6379), got {address!r}")
    if ray.is_initialized():
        return False
    if address == RAY_LOCAL:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, runtime_env={"py_modules": code_modules()}, log_to_driver=False)
    return True


@contextmanager
def ray_session(address: str, *, num_cpus: int | None = None) -> Iterator[bool]:
    """``with ray_session(address):`` connects (:func:`start_ray`) and shuts down the Ray it started.

    Yields whether this session started (or joined) Ray; a Ray that was already
    initialised is left running.
    """
    started = start_ray(address, num_cpus=num_cpus)
    try:
        yield started
    finally:
        if started:
            import ray

            ray.shutdown()


def _run_remote(function: Callable[[Any, Any], Any], task: Any, shared: Any, threads: int | None) -> Any:
    """The body of every Ray task: the driver's torch thread count, then ``function(task, shared)``."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return function(task, shared)


def _driver_threads() -> int | None:
    """The driver's torch thread count (``--threads``), when torch is loaded; workers use the same."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def _one_line(error: BaseException) -> str:
    """The last line of a (remote) error's text: its type and message."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}".strip()


def run_tasks(
    function: Callable[[_Task, Any], Any],
    tasks: Sequence[_Task],
    shared: Mapping[Any, Any],
    key_of: Callable[[_Task], Any],
    *,
    describe: Callable[[_Task], str] = str,
    progress: bool = True,
    max_retries: int = MAX_RETRIES,
    desc: str = "benchmark",
) -> list[Any]:
    """Run ``function(task, shared[key_of(task)])`` for every task as a Ray task; results in task order.

    Ray must be connected (:func:`start_ray`). Each value of ``shared`` is put in
    the object store once; ``function`` is a module-level function (workers import
    its module). The bar counts completed tasks (:func:`ray.wait`) and names the
    last one (``describe``). A task that fails ``1 + max_retries`` times comes back
    as a :class:`TaskFailure` in its place.
    """
    from tqdm import tqdm

    ray = _require_ray()
    if not ray.is_initialized():
        raise ConfigError("run_tasks needs a connected Ray: call start_ray first")
    shared_refs = {key: ray.put(value) for key, value in shared.items()}
    function_ref = ray.put(function)
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=True)(_run_remote)
    threads = _driver_threads()
    index_of = {}
    for index, task in enumerate(tasks):
        ref = remote.remote(function_ref, task, shared_refs[key_of(task)], threads)
        index_of[ref] = index
    results: list[Any] = [None] * len(tasks)
    pending = list(index_of)
    with tqdm(total=len(tasks), desc=desc, unit="run", disable=not progress, file=sys.stderr) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                index = index_of[ref]
                try:
                    results[index] = ray.get(ref)
                except ray.exceptions.RayError as err:
                    results[index] = TaskFailure(tasks[index], _one_line(err))
                bar.set_postfix_str(describe(tasks[index]))
                bar.update(1)
    return results


class FailedRunsError(SparqError):
    """Benchmark runs that failed on every try; the message names each run and its last error.

    :param failed: the failed runs (``env_id``, ``kind``, ``policy``, ``seed``, ``error``).
    :param out: where the results of the other runs were written.
    """

    def __init__(self, failed: Sequence[Mapping[str, Any]], out: str) -> None:
        self.failed = list(failed)
        names = "; ".join(
            f"{run['env_id']} {run['policy']} seed {run['seed']} ({run['error']})" for run in self.failed
        )
        super().__init__(
            f"{len(self.failed)} benchmark run(s) failed after {MAX_RETRIES} retries: {names}; "
            f"the other runs are in {out} (results.json lists the failed ones under failed_runs)"
        )


def run_benchmark_tasks(
    run: Callable[[tuple[str, str, str, int], Any], dict[str, Any]],
    tasks: Sequence[tuple[str, str, str, int]],
    shared: Mapping[str, Any],
    address: str,
    *,
    describe: Callable[[tuple[str, str, str, int]], str] = str,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The benchmark's runs (``(env_id, kind, name, seed)``) as Ray tasks: (rows, failed runs).

    Connects to Ray at ``address`` for the call (:func:`ray_session`), shares each
    environment's ``shared[env_id]`` through the object store and runs
    ``run(task, shared[env_id])`` for every task (:func:`run_tasks`). The rows come
    back in task order, as the serial loop gives them; each failed run becomes a
    record ``{env_id, kind, policy, seed, error}``.
    """
    with ray_session(address):
        results = run_tasks(run, tasks, dict(shared), key_of=lambda task: task[0], describe=describe,
                            progress=progress)
    rows = [result for result in results if not isinstance(result, TaskFailure)]
    failed = [
        {"env_id": f.task[0], "kind": f.task[1], "policy": f.task[2], "seed": f.task[3], "error": f.error}
        for f in results
        if isinstance(f, TaskFailure)
    ]
    return rows, failed
