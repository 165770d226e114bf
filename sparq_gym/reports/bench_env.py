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
from typing import Any

import gymnasium as gym
import numpy as np

from sparq_gym.envs.registration import ENV_TABLE
from sparq_gym.envs.vector_env import SPARQExitVectorEnv
from sparq_gym.paths import trace_dir
from sparq_gym.traces import TraceSet, make_synthetic_traces

__all__ = ["BenchConfig", "benchmark_envs", "format_table"]

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
    """

    single_steps: int = 100_000
    vector_steps: int = 300
    vector_sizes: tuple[int, ...] = (1, 64, 4096)
    repeats: int = 5
    seed: int = 0
    synthetic_samples: int = 10_000
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


def _traces_for(backbone: str, seed: int, n: int) -> tuple[TraceSet | None, str]:
    """Shipped training traces of ``backbone`` when present, else synthetic ones."""
    if (trace_dir(backbone) / "manifest.json").exists():
        return None, "pretrained"
    return make_synthetic_traces(n, n_exits=3, n_classes=10, seed=seed, split="train"), "synthetic"


def benchmark_envs(
    config: BenchConfig | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Measure steps per second of every entry and the two headline ratios.

    Entries: ``gym.make`` of each SPARQ id, the unwrapped SPARQ environment,
    the SPARQ vector env at each of ``vector_sizes``, ``CartPole-v1`` via
    ``gym.make`` and Gymnasium's CartPole vector env at the largest size.
    Returns a JSON-able dict with ``entries``, ``ratio_make_vs_cartpole``
    (slowest SPARQ id over CartPole, both via ``gym.make``) and
    ``ratio_vector4096_vs_cartpole`` (SPARQ vector env at the largest size over
    the CartPole single environment) and ``ratio_vector4096_vs_cartpole_vector4096``
    (both vector envs at the largest size).
    """
    cfg = config or BenchConfig()
    rng = np.random.default_rng(cfg.seed)
    single_actions = rng.integers(2, size=cfg.single_steps).tolist()
    makers: dict[str, tuple[str, Callable[[], float]]] = {}

    sources: dict[str, str] = {}
    for entry in ENV_TABLE:
        traces, source = _traces_for(entry.backbone, cfg.seed, cfg.synthetic_samples)
        sources[entry.env_id] = source
        kwargs: dict[str, Any] = {} if traces is None else {"traces": traces}
        env = gym.make(entry.env_id, **kwargs)
        makers[f"{entry.env_id} (gym.make)"] = (
            "single",
            partial(_single_rate, env, single_actions, cfg.seed),
        )
    reference = ENV_TABLE[-1]
    traces, _ = _traces_for(reference.backbone, cfg.seed, cfg.synthetic_samples)
    kwargs = {} if traces is None else {"traces": traces}
    raw = gym.make(reference.env_id, **kwargs).unwrapped
    makers[f"{reference.env_id} (unwrapped)"] = (
        "single",
        partial(_single_rate, raw, single_actions, cfg.seed),
    )
    for size in cfg.vector_sizes:
        vec = SPARQExitVectorEnv(size, reference.backbone, **kwargs)
        acts = rng.integers(2, size=(max(cfg.vector_steps // max(size // 64, 1), MIN_VECTOR_STEPS), size))
        makers[f"{reference.env_id} vector x{size}"] = ("vector", partial(_vector_rate, vec, acts, cfg.seed))
    cartpole = gym.make("CartPole-v1")
    makers["CartPole-v1 (gym.make)"] = ("single", partial(_single_rate, cartpole, single_actions, cfg.seed))
    big = max(cfg.vector_sizes)
    cart_vec = gym.make_vec("CartPole-v1", num_envs=big, vectorization_mode="vector_entry_point")
    cart_acts = rng.integers(2, size=(max(cfg.vector_steps // max(big // 64, 1), MIN_VECTOR_STEPS), big))
    makers[f"CartPole-v1 vector x{big}"] = ("vector", partial(_vector_rate, cart_vec, cart_acts, cfg.seed))

    # One untimed pass of every entry first: each environment's per-(sample, exit)
    # info cache and every interpreter and CPU cache start warm, for SPARQ and CartPole alike.
    for name, (_, measure) in makers.items():
        if progress:
            progress(f"warm-up: {name}")
        measure()
    rates: dict[str, list[float]] = {name: [] for name in makers}
    for repeat in range(cfg.repeats):
        for name, (_, measure) in makers.items():
            if progress:
                progress(f"repeat {repeat + 1}/{cfg.repeats}: {name}")
            rates[name].append(measure())

    by_name = {name: float(statistics.median(values)) for name, values in rates.items()}
    entries = [
        {"name": name, "kind": kind, "steps_per_second": by_name[name]} for name, (kind, _) in makers.items()
    ]
    cart = by_name["CartPole-v1 (gym.make)"]
    slowest = min(by_name[f"{e.env_id} (gym.make)"] for e in ENV_TABLE)
    return {
        "entries": entries,
        "ratio_make_vs_cartpole": slowest / cart,
        "ratio_vector4096_vs_cartpole": by_name[f"{reference.env_id} vector x{big}"] / cart,
        "ratio_vector4096_vs_cartpole_vector4096": (
            by_name[f"{reference.env_id} vector x{big}"] / by_name[f"CartPole-v1 vector x{big}"]
        ),
        "trace_sources": sources,
        "config": {k: v for k, v in vars(cfg).items() if k != "extra"},
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
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
    if "ratio_vector4096_vs_cartpole_vector4096" in result:
        lines.append(
            "ratio_vector4096_vs_cartpole_vector4096 = "
            f"{result['ratio_vector4096_vs_cartpole_vector4096']:.2f}"
        )
    return "\n".join(lines)
