"""Steps per second of the SPARQ environments against CartPole, measured in one run.

Every entry is driven by the same loop over the same pre-drawn random actions
(so the policy costs nothing), once untimed (warm-up) and then ``repeats``
times in interleaved order; the median rate is kept, i.e. the steady state.
Ratios compare rates from the same run, so they hold on a loaded or a
different machine where absolute rates do not.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.depth_time_env import time_trace_dir
from sparq_gym.envs.registration import DEPTH_TIME_TABLE, ENV_TABLE
from sparq_gym.envs.vector_env import SPARQExitVectorEnv
from sparq_gym.errors import ConfigError, TraceNotFoundError
from sparq_gym.paths import trace_dir
from sparq_gym.traces import TraceSet, make_synthetic_traces
from sparq_gym.traces.timeset import make_synthetic_time_traces

__all__ = ["BenchConfig", "benchmark_envs", "format_profile", "format_table", "profile_steps"]

TRACE_SOURCES: tuple[str, ...] = ("pretrained", "synthetic")
"""What ``sparq bench-env --traces`` accepts."""

MIN_VECTOR_STEPS = 100
"""Vector steps per repeat at least: at 4,096 envs a step takes tens of microseconds, so
fewer steps would time a few milliseconds and measure the scheduler more than the env."""


@dataclass
class BenchConfig:
    """What :func:`benchmark_envs` measures.

    :param single_steps: steps per repeat for single environments.
    :param vector_steps: vector steps per repeat (each steps ``num_envs`` episodes).
    :param vector_sizes: numbers of environments of the SPARQ vector env.
    :param repeats: interleaved repeats; the median rate is reported.
    :param seed: seed of the action draws and environment resets.
    :param traces: ``"pretrained"`` (the shipped traces; missing ones are an error naming the
        folder) or ``"synthetic"`` (traces of the same shape, ``synthetic_samples`` per env,
        for a checkout without ``pretrained/``); the result records which.
    :param synthetic_samples: samples of each synthetic trace set.
    """

    single_steps: int = 100_000
    vector_steps: int = 300
    vector_sizes: tuple[int, ...] = (1, 64, 4096)
    repeats: int = 5
    seed: int = 0
    traces: str = "pretrained"
    synthetic_samples: int = 10_000

    def __post_init__(self) -> None:
        """Check the trace source before any work."""
        if self.traces not in TRACE_SOURCES:
            raise ConfigError(f"traces must be one of {list(TRACE_SOURCES)}, got {self.traces!r}")
    extra: dict[str, Any] = field(default_factory=dict)


def _single_rate(env: gym.Env[Any, Any], actions: list[int], seed: int) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def _vector_rate(env: gym.vector.VectorEnv[Any, Any, Any], actions: np.ndarray, seed: int) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for row in actions:
        env.step(row)
    return actions.size / (time.perf_counter() - start)


def _shipped(directory: Path, cfg: BenchConfig) -> bool:
    """Whether to use the shipped traces in ``directory``: never silently replaced."""
    if cfg.traces == "synthetic":
        return False
    if not (directory / "manifest.json").exists():
        raise TraceNotFoundError(
            f"{directory / 'manifest.json'} does not exist: bench-env times the shipped traces; build "
            "them with `sparq backbone pipeline NAME`, or time synthetic ones with --traces synthetic"
        )
    return True


def _traces_for(backbone: str, cfg: BenchConfig) -> tuple[TraceSet | None, str]:
    """``(None, "pretrained")`` for the shipped training traces of ``backbone``, or synthetic ones."""
    if _shipped(trace_dir(backbone), cfg):
        return None, "pretrained"
    traces = make_synthetic_traces(
        cfg.synthetic_samples, n_exits=3, n_classes=10, seed=cfg.seed, split="train"
    )
    return traces, "synthetic"


Makers = dict[str, tuple[str, Callable[[], float]]]

DEPTH_TIME_CYCLE: tuple[int, ...] = (2, 0, 1)
"""WAIT, CONTINUE, EXIT: always valid in the depth x time envs (T >= 2, E >= 2); an episode
is three steps. Their vector env repeats it with a fourth action that the reset step ignores."""


def _v0_makers(
    cfg: BenchConfig, rng: np.random.Generator, actions: list[int]
) -> tuple[Makers, dict[str, str]]:
    """The v0 ids via ``gym.make``, the unwrapped env and the native vector env at every size."""
    makers: Makers = {}
    sources: dict[str, str] = {}
    for entry in ENV_TABLE:
        traces, source = _traces_for(entry.backbone, cfg)
        sources[entry.env_id] = source
        env_kwargs: dict[str, Any] = {} if traces is None else {"traces": traces}
        env = gym.make(entry.env_id, **env_kwargs)
        makers[f"{entry.env_id} (gym.make)"] = ("single", partial(_single_rate, env, actions, cfg.seed))
    reference = ENV_TABLE[-1]
    traces, _ = _traces_for(reference.backbone, cfg)
    kwargs: dict[str, Any] = {} if traces is None else {"traces": traces}
    raw = gym.make(reference.env_id, **kwargs).unwrapped
    makers[f"{reference.env_id} (unwrapped)"] = ("single", partial(_single_rate, raw, actions, cfg.seed))
    for size in cfg.vector_sizes:
        vec = SPARQExitVectorEnv(size, reference.backbone, **kwargs)
        acts = rng.integers(2, size=(_vector_steps(cfg, size), size))
        makers[f"{reference.env_id} vector x{size}"] = ("vector", partial(_vector_rate, vec, acts, cfg.seed))
    return makers, sources


def _depth_time_makers(cfg: BenchConfig) -> tuple[Makers, dict[str, str]]:
    """The depth x time ids via ``gym.make`` and their native vector env at the largest size,
    driven by :data:`DEPTH_TIME_CYCLE` (random actions would hit masked ones)."""
    makers: Makers = {}
    sources: dict[str, str] = {}
    cycle = list(DEPTH_TIME_CYCLE) * (cfg.single_steps // len(DEPTH_TIME_CYCLE))
    kwargs: dict[str, Any] = {}
    for entry in DEPTH_TIME_TABLE:
        shipped = _shipped(time_trace_dir(entry.backbone), cfg)
        sources[entry.env_id] = "pretrained" if shipped else "synthetic"
        kwargs = {} if shipped else {
            "traces": make_synthetic_time_traces(cfg.synthetic_samples, seed=cfg.seed, split="train")}
        env = gym.make(entry.env_id, **kwargs)
        makers[f"{entry.env_id} (gym.make)"] = ("single", partial(_single_rate, env, cycle, cfg.seed))
    big = max(cfg.vector_sizes)
    reference = DEPTH_TIME_TABLE[-1]
    vec = gym.make_vec(reference.env_id, num_envs=big, vectorization_mode="vector_entry_point", **kwargs)
    rows = np.tile(np.array([*DEPTH_TIME_CYCLE, 1]), (_vector_steps(cfg, big) + 3) // 4)
    acts = np.repeat(rows[:, None], big, axis=1)
    makers[f"{reference.env_id} vector x{big}"] = ("vector", partial(_vector_rate, vec, acts, cfg.seed))
    return makers, sources


def _vector_steps(cfg: BenchConfig, size: int) -> int:
    return max(cfg.vector_steps // max(size // 64, 1), MIN_VECTOR_STEPS)


def _measure(makers: Makers, repeats: int, progress: Callable[[str], None] | None) -> dict[str, float]:
    """One untimed pass of every entry (caches warm for SPARQ and CartPole alike), then the
    median of ``repeats`` interleaved timed passes."""
    for name, (_, measure) in makers.items():
        if progress:
            progress(f"warm-up: {name}")
        measure()
    rates: dict[str, list[float]] = {name: [] for name in makers}
    for repeat in range(repeats):
        for name, (_, measure) in makers.items():
            if progress:
                progress(f"repeat {repeat + 1}/{repeats}: {name}")
            rates[name].append(measure())
    return {name: float(statistics.median(values)) for name, values in rates.items()}


def benchmark_envs(
    config: BenchConfig | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Measure steps per second of every entry and the headline ratios.

    Entries: ``gym.make`` of each SPARQ id (v0 and depth x time), the unwrapped v0
    environment, the v0 vector env at each of ``vector_sizes``, the depth x time vector env
    at the largest, ``CartPole-v1`` via ``gym.make`` and Gymnasium's CartPole vector env
    at the largest size. Returns a JSON-able dict with ``entries``,
    ``ratio_make_vs_cartpole`` (slowest v0 id over CartPole, both via ``gym.make``),
    ``ratio_vector4096_vs_cartpole`` (v0 vector env at the largest size over the CartPole
    single environment), ``ratio_vector4096_vs_cartpole_vector4096`` (both vector envs at
    the largest size) and the same two ratios for the depth x time family
    (``ratio_make_depth_time_vs_cartpole``, ``ratio_depth_time_vector4096_vs_cartpole_vector4096``).
    """
    cfg = config or BenchConfig()
    load_before = os.getloadavg()  # how quiet the machine was: the 1, 5 and 15 minute load averages
    rng = np.random.default_rng(cfg.seed)
    single_actions = rng.integers(2, size=cfg.single_steps).tolist()
    makers, sources = _v0_makers(cfg, rng, single_actions)
    time_makers, time_sources = _depth_time_makers(cfg)
    makers.update(time_makers)
    sources.update(time_sources)
    big = max(cfg.vector_sizes)
    cartpole = gym.make("CartPole-v1")
    makers["CartPole-v1 (gym.make)"] = ("single", partial(_single_rate, cartpole, single_actions, cfg.seed))
    cart_vec = gym.make_vec("CartPole-v1", num_envs=big, vectorization_mode="vector_entry_point")
    cart_acts = rng.integers(2, size=(_vector_steps(cfg, big), big))
    makers[f"CartPole-v1 vector x{big}"] = ("vector", partial(_vector_rate, cart_vec, cart_acts, cfg.seed))

    rate = _measure(makers, cfg.repeats, progress)
    entries = [
        {"name": name, "kind": kind, "steps_per_second": rate[name]} for name, (kind, _) in makers.items()
    ]
    cart, cart_vector = rate["CartPole-v1 (gym.make)"], rate[f"CartPole-v1 vector x{big}"]
    return {
        "entries": entries,
        "ratio_make_vs_cartpole": min(rate[f"{e.env_id} (gym.make)"] for e in ENV_TABLE) / cart,
        "ratio_vector4096_vs_cartpole": rate[f"{ENV_TABLE[-1].env_id} vector x{big}"] / cart,
        "ratio_vector4096_vs_cartpole_vector4096": (
            rate[f"{ENV_TABLE[-1].env_id} vector x{big}"] / cart_vector
        ),
        "ratio_make_depth_time_vs_cartpole": (
            min(rate[f"{e.env_id} (gym.make)"] for e in DEPTH_TIME_TABLE) / cart
        ),
        "ratio_depth_time_vector4096_vs_cartpole_vector4096": (
            rate[f"{DEPTH_TIME_TABLE[-1].env_id} vector x{big}"] / cart_vector
        ),
        "trace_sources": sources,
        "config": {k: v for k, v in vars(cfg).items() if k != "extra"},
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    }


def format_table(result: dict[str, Any]) -> str:
    """A Markdown table of a :func:`benchmark_envs` result, ratios to CartPole included."""
    cart = next(e["steps_per_second"] for e in result["entries"] if e["name"] == "CartPole-v1 (gym.make)")
    lines = ["| environment | steps/s | vs CartPole (gym.make) |", "|---|---:|---:|"]
    for entry in result["entries"]:
        rate = entry["steps_per_second"]
        lines.append(f"| {entry['name']} | {rate:,.0f} | {rate / cart:.2f}x |")
    lines.append("")
    lines.append(f"ratio_make_vs_cartpole = {result['ratio_make_vs_cartpole']:.2f}")
    lines.append(f"ratio_vector4096_vs_cartpole = {result['ratio_vector4096_vs_cartpole']:.1f}")
    for key in ("ratio_vector4096_vs_cartpole_vector4096", "ratio_make_depth_time_vs_cartpole",
                "ratio_depth_time_vector4096_vs_cartpole_vector4096"):
        if key in result:
            lines.append(f"{key} = {result[key]:.2f}")
    return "\n".join(lines)


def profile_steps(backbone: str = "alexnet", num_envs: int = 4096, steps: int = 300, repeats: int = 5,
                  seed: int = 0, single_calls: int = 100_000) -> dict[str, float]:
    """Where a step's time goes, in microseconds (medians of ``repeats`` runs on the shipped traces).

    The vector env (``num_envs`` slots, ``NEXT_STEP``, random actions): the whole step, and
    the same work split into its parts, each timed in place in a loop that does what
    :meth:`~sparq_gym.envs.common.TraceReplayVectorEnv._advance` does: the action check,
    :func:`~sparq_gym.envs.core.exit_step` (three gathers), the observation gather, the
    ended slots with their next draws, and the per-step arrays (truncations, the copies a
    lazy info keeps). The single env (unwrapped): ``reset()``, a CONTINUE step, and an
    episode's last step (its info not read).
    """
    from sparq_gym.envs.core import exit_step
    from sparq_gym.envs.exit_env import SPARQExitEnv

    vec = SPARQExitVectorEnv(num_envs, backbone)
    actions = np.random.default_rng(seed).integers(2, size=(steps, num_envs))

    def whole() -> float:
        vec.reset(seed=seed)
        start = time.perf_counter()
        for row in actions:
            vec.step(row)
        return (time.perf_counter() - start) / steps * 1e6

    def parts() -> NDArray[np.float64]:
        vec.reset(seed=seed)
        spent = np.zeros(5)
        draws = vec._slot_draws
        for row in actions:
            t0 = time.perf_counter()
            act = np.asarray(row)
            if np.bitwise_or.reduce(act) >> 1:
                raise AssertionError("random actions are 0 or 1")
            t1 = time.perf_counter()
            next_state, _, terminated = exit_step(vec._steps, vec._state, act)
            t2 = time.perf_counter()
            vec._observe(next_state)
            t3 = time.perf_counter()
            ended = terminated.nonzero()[0]
            if ended.size:
                next_state[ended] = draws.take(ended) + vec._pending_offset
            vec._state = next_state
            t4 = time.perf_counter()
            np.zeros(num_envs, dtype=np.bool_), terminated.copy(), act.copy()
            spent += np.diff([t0, t1, t2, t3, t4, time.perf_counter()])
        return spent / steps * 1e6

    totals = [whole() for _ in range(repeats)]
    split = np.median([parts() for _ in range(repeats)], axis=0)
    single = SPARQExitEnv(backbone)
    single.reset(seed=seed)

    def calls() -> NDArray[np.float64]:
        """Per call: reset, a CONTINUE at the first exit, the EXIT that ends the episode; each
        timed on its own (the clock's own cost, measured alike, taken off)."""
        clock = time.perf_counter
        spent = np.zeros(4)
        for _ in range(single_calls):
            t0 = clock()
            single.reset()
            t1 = clock()
            single.step(0)
            t2 = clock()
            single.step(1)
            t3 = clock()
            t4 = clock()
            spent += (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
        return (spent[:3] - spent[3]) / single_calls * 1e6

    reset, going_on, ending = np.median([calls() for _ in range(repeats)], axis=0)
    return {
        "vector_step": float(np.median(totals)),
        "action_check": float(split[0]),
        "exit_step": float(split[1]),
        "observation": float(split[2]),
        "ended_and_draws": float(split[3]),
        "step_arrays": float(split[4]),
        "single_reset": float(reset),
        "single_continue": float(going_on),
        "single_last_step": float(ending),
    }


def format_profile(parts: dict[str, float], num_envs: int = 4096) -> str:
    """One paragraph of :func:`profile_steps`' numbers."""
    p = parts
    parts_sum = sum(
        p[k] for k in ("action_check", "exit_step", "observation", "ended_and_draws", "step_arrays")
    )
    return (
        f"A vector step at {num_envs:,} envs (`NEXT_STEP`, random actions) takes {p['vector_step']:.0f} µs: "
        f"action check {p['action_check']:.1f}, `exit_step` (three gathers: next state, reward, termination) "
        f"{p['exit_step']:.1f}, observation gather {p['observation']:.1f}, the ended slots and their next "
        f"draws {p['ended_and_draws']:.1f}, the truncation array and the info's copies "
        f"{p['step_arrays']:.1f} µs, which sum to {parts_sum:.0f} µs timed one by one; the other "
        f"{p['vector_step'] - parts_sum:.0f} µs of the whole step are its Python calls, its info object and "
        f"the fresh memory its results take (the parts' results are dropped at once). The single env "
        f"(unwrapped): `reset()` {p['single_reset']:.2f} µs, a "
        f"CONTINUE step {p['single_continue']:.2f} µs, an episode's last step {p['single_last_step']:.2f} µs "
        f"(its info not read)."
    )
