"""Every policy x every environment (both families) x seeds -> leaderboard, CSV, JSON and plots.

For each environment the benchmark trains the learning agents (one run per
seed), builds the family's reference policies (:mod:`agents.references.registry`;
deterministic ones once, ``random`` per seed),
adds any user policy (``extra_policies``: specs as for ``sparq evaluate``),
evaluates everything on every ``test`` sample once (:mod:`agents.evaluation`)
and writes to ``out``:

``results.json``   every run (one row per policy x env x seed) + the aggregate + run metadata
``results.csv``    the aggregate: one row per env x policy, means and standard deviations over seeds
``leaderboard.md`` one table per environment, ranked by normalized score
``accuracy_cost.png``      accuracy vs mean total ops of every policy; v0: the Pareto front of all
                           static threshold pairs; depth x time: the depth-only front (every
                           threshold pair at t = T), the time-only front (every SEENN-I theta) and
                           the front of the ranked policies (on ``test``: a picture, not a tuned policy)
``exit_distribution.png``  fraction of each class leaving at each exit (cf. the paper's Fig. 2)
``learning_curves.png``    validation return during training (Q-learning per episode, SB3 per step)
``performance_profile.png`` rliable performance profiles of the normalized score (runs x environments)

Over seeds every policy gets mean ± std and ``rliable``'s statistics (:mod:`agents.benchmark.statistics`):
IQM with a 95 % stratified-bootstrap CI and the probability of improvement over the paper's
Q-learner, per environment and across them.

Agents: ``q-learning`` (the paper's, gamma = 0.9), ``q-learning-gamma1``
(the same with gamma = 1), ``dqn`` and ``ppo`` (SB3), ``maskable-ppo`` (sb3-contrib; on
the families with action masks). ``quick`` trains the SB3 agents for
:data:`QUICK_SB3_TIMESTEPS` steps on :data:`QUICK_SEEDS` with
:data:`QUICK_BOOTSTRAP_REPS` bootstrap replications (about a minute on two cores); the full
run uses :data:`FULL_SEEDS` (five), :data:`BOOTSTRAP_REPS` replications and the
budgets of ``agents/hyperparams/<algo>.yml``. SB3 runs use one torch thread
(``--threads``), several times faster than the default on a small CPU.
"""

from __future__ import annotations

import functools
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from agents.benchmark.fronts import accuracy_cost_fronts
from agents.benchmark.leaderboard import aggregate_runs, leaderboard_markdown, write_csv
from agents.benchmark.plots import figure_panels, write_plots
from agents.benchmark.statistics import draw_performance_profile, rliable_statistics
from agents.common import TRACE_SOURCES, EnvConfig, check_out
from agents.evaluation import evaluate_policy, reference_returns
from agents.integrations.zoo import is_model_zip, recorded_env_id
from agents.loading import load_policy
from agents.policy import Policy, TablePolicy
from agents.references.registry import make_reference, reference_names
from sparq_gym.checks import check_choice, check_integer, check_number
from sparq_gym.envs.families import all_env_ids, family_of, shipped_env_ids
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.errors import ConfigError
from sparq_gym.io import atomic_directory, atomic_write_json, atomic_write_text, check_output_dir
from sparq_gym.paths import DEFAULT_NETWORK, NETWORKS

__all__ = [
    "AGENTS",
    "BOOTSTRAP_REPS",
    "FULL_SEEDS",
    "QUICK_BOOTSTRAP_REPS",
    "QUICK_SB3_TIMESTEPS",
    "QUICK_SEEDS",
    "BenchmarkConfig",
    "run_benchmark",
]

AGENTS: tuple[str, ...] = ("q-learning", "q-learning-gamma1", "dqn", "ppo", "maskable-ppo")
MASKED_ONLY: tuple[str, ...] = ("maskable-ppo",)
"""Agents that run only on a family with action masks (elsewhere they are PPO)."""
OPTIMUM_SECONDS, QUICK_OPTIMUM_SECONDS = 600.0, 0.0
"""Time limit of the exact-optimum MILP (depth x time) per environment, full run and ``--quick``
(0: the best known table, the tuned (k, t) thresholds, stands in; the leaderboard says so)."""
QUICK_SB3_TIMESTEPS = 5_000
"""Training steps of DQN and PPO in ``--quick`` runs (the YAML budgets otherwise)."""
FULL_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
"""Seeds of the full benchmark (rliable's statistics want at least five runs)."""
QUICK_SEEDS: tuple[int, ...] = (0, 1, 2)
"""Seeds of ``--quick`` runs."""
BOOTSTRAP_REPS, QUICK_BOOTSTRAP_REPS = 2000, 200
"""Stratified-bootstrap replications of the full and the ``--quick`` run."""


@dataclass
class BenchmarkConfig:
    """What :func:`run_benchmark` runs.

    :param out: output directory.
    :param envs: environment ids (any registered one; the generic ids need ``trace_dir``).
    :param seeds: seeds of the learning agents and of ``random``.
    :param agents: learning agents (subset of :data:`AGENTS`); ``None``: all (``maskable-ppo``
        only where the family has action masks).
    :param baselines: reference names to rank; ``None``: every reference of each family
        (:data:`agents.references.registry.REFERENCE_NAMES`).
    :param extra_policies: user policy specs (saved dirs, model zips, ``module:Name``, files).
    :param traces: trace source (``auto``, ``pretrained``, ``synthetic``).
    :param trace_dir: the trace folder of the generic ids among ``envs``.
    :param quick: the fast variant (SB3 agents trained for QUICK_SB3_TIMESTEPS steps, no MILP).
    :param sb3_timesteps: override of the YAML training budget of the SB3 agents.
    :param optimum_seconds: time limit of the exact-optimum MILP per environment (``None``: by ``quick``).
    :param plots: write the PNG plots.
    :param progress: show a tqdm progress bar on stderr.
    :param bootstrap_reps: bootstrap replications (``None``: by ``quick``).
    :param ray: run every run as a Ray task: ``"local"`` or a cluster address (``None``: local).
    :param jobs: local worker processes (``None``: one per CPU core, :meth:`job_count`); 1 runs
        everything in this process. Every run is seeded on its own: the rows do not depend on it.
    :param networks: network variants every environment is run on (``network=``; default the
        binary QDSNN). A variant other than ``qdsnn`` is ranked as its own environment,
        labelled ``<env id>[<network>]`` (:func:`env_label`).
    """

    out: str
    envs: tuple[str, ...] = field(default_factory=lambda: tuple(shipped_env_ids()))
    seeds: tuple[int, ...] = FULL_SEEDS
    agents: tuple[str, ...] | None = None
    baselines: tuple[str, ...] | None = None
    extra_policies: tuple[str, ...] = ()
    traces: str = TRACE_SOURCES[0]
    trace_dir: str | None = None
    quick: bool = False
    sb3_timesteps: int | None = None
    optimum_seconds: float | None = None
    plots: bool = True
    progress: bool = True
    bootstrap_reps: int | None = None
    ray: str | None = None
    networks: tuple[str, ...] = (DEFAULT_NETWORK,)
    jobs: int | None = None

    def __post_init__(self) -> None:
        """Check every field before any work (a :class:`~sparq_gym.errors.ConfigError` names it)."""
        check_out(self.out)
        if not self.envs:
            raise ConfigError("envs (--envs) must name at least one environment id")
        for env_id in self.envs:
            check_choice("envs (--envs)", env_id, all_env_ids())
            if family_of(env_id)[1] is None and self.trace_dir is None:
                raise ConfigError(f"envs (--envs): {env_id} needs --trace-dir (your own trace folder)")
        if not self.seeds:
            raise ConfigError("seeds (--seeds) must hold at least one seed")
        for seed in self.seeds:
            check_integer("seeds (--seeds)", seed, 0)
        check_choice("traces (--traces)", self.traces, TRACE_SOURCES)
        if not self.networks:
            raise ConfigError("networks (--networks) must name at least one network")
        for network in self.networks:
            check_choice("networks (--networks)", network, NETWORKS)
        if self.sb3_timesteps is not None:
            check_integer("sb3_timesteps (--sb3-timesteps)", self.sb3_timesteps, 1)
        if self.optimum_seconds is not None:
            check_number("optimum_seconds (--optimum-seconds)", self.optimum_seconds, 0)
        if self.bootstrap_reps is not None:
            check_integer("bootstrap_reps (--bootstrap-reps)", self.bootstrap_reps, 1)
        if self.jobs is not None:
            check_integer("jobs (--jobs)", self.jobs, 1, 256)
        for name in self.baselines or ():
            if not any(name in reference_names(family_of(env_id)[0].name) for env_id in self.envs):
                raise ConfigError(f"baselines: {name!r} is a reference of none of {list(self.envs)}")
        self.agent_list()

    def runs(self) -> list[tuple[str, str, str]]:
        """``(label, env id, network)`` of every environment x network this run ranks."""
        return [
            (env_label(env_id, network), env_id, network) for env_id in self.envs for network in self.networks
        ]

    def labels(self) -> tuple[str, ...]:
        """The labels of :meth:`runs`, in order."""
        return tuple(label for label, _, _ in self.runs())

    def reps(self) -> int:
        """Bootstrap replications of this run."""
        if self.bootstrap_reps is not None:
            return self.bootstrap_reps
        return QUICK_BOOTSTRAP_REPS if self.quick else BOOTSTRAP_REPS

    def job_count(self) -> int:
        """Local worker processes: ``jobs``, else one per available CPU core."""
        if self.jobs is not None:
            return self.jobs
        import os

        return max(
            1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        )

    def optimum_limit(self) -> float:
        """Time limit of the exact-optimum MILP per environment."""
        if self.optimum_seconds is not None:
            return float(self.optimum_seconds)
        return QUICK_OPTIMUM_SECONDS if self.quick else OPTIMUM_SECONDS

    def agent_list(self) -> tuple[str, ...]:
        """The learning agents this run trains."""
        if self.agents is not None:
            unknown = sorted(set(self.agents) - set(AGENTS))
            if unknown:
                raise ConfigError(f"agents (--agents) must be some of {list(AGENTS)}, got unknown {unknown}")
            return tuple(self.agents)
        return AGENTS

    def config(self, env_id: str, network: str) -> EnvConfig:
        """The environment of one run."""
        generic = family_of(env_id)[1] is None
        return EnvConfig(
            env_id=env_id,
            traces=self.traces,
            trace_dir=self.trace_dir if generic else None,
            settings=ExitSettings(network=network),
            optimum_seconds=self.optimum_limit(),
        )


def _train_agent(
    agent: str, config: EnvConfig, seed: int, cfg: BenchmarkConfig
) -> tuple[Policy, dict[str, Any]]:
    """Train one agent; return its policy and a record (train steps, wall time, curve)."""
    if agent.startswith("q-learning"):
        from agents.learners import q_learning

        args = q_learning.Args.for_env(config, seed=seed, gamma=1.0 if agent == "q-learning-gamma1" else 0.9)
        result = q_learning.train(args, config)
        result.policy.name = agent
        return result.policy, {
            "train_steps": result.steps,
            "train_episodes": result.episodes,
            "wall_time_s": result.wall_time_s,
            "curve": [{"x": c["steps"], "validation_return": c["validation_return"]} for c in result.curve],
        }
    from agents.learners import sb3

    args_sb3 = sb3.Args.for_env(
        config,
        algo=agent,
        seed=seed,
        n_timesteps=cfg.sb3_timesteps or (QUICK_SB3_TIMESTEPS if cfg.quick else None),
    )
    result_sb3 = sb3.train(args_sb3, config)
    return result_sb3.policy, {
        "train_steps": result_sb3.train_steps,
        "wall_time_s": result_sb3.wall_time_s,
        "curve": [{"x": c["step"], "validation_return": c["validation_return"]} for c in result_sb3.curve],
    }


def env_label(env_id: str, network: str) -> str:
    """The leaderboard's name of ``env_id`` run on ``network``: the id itself for the default network."""
    return env_id if network == DEFAULT_NETWORK else f"{env_id}[{network}]"


def _tasks(cfg: BenchmarkConfig, agents: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(environment label, kind, name, seed) of every run, environment after environment."""
    tasks: list[tuple[str, str, str, int]] = []
    for label, env_id, _ in cfg.runs():
        family = family_of(env_id)[0]
        names = [
            b for b in (cfg.baselines or reference_names(family.name)) if b in reference_names(family.name)
        ]
        tasks += [(label, "baseline", name, 0) for name in names if name != "random"]
        if "random" in names:
            tasks += [(label, "baseline", "random", seed) for seed in cfg.seeds]
        runnable = [a for a in agents if family.masked or a not in MASKED_ONLY]
        tasks += [(label, "agent", agent, seed) for agent in runnable for seed in cfg.seeds]
        # a model zip runs on the environment it records only (one that records none is refused)
        tasks += [
            (label, "user", spec, 0)
            for spec in cfg.extra_policies
            if not is_model_zip(spec) or recorded_env_id(spec) == env_id
        ]
    return tasks


def _policy(
    kind: str, name: str, seed: int, config: EnvConfig, cfg: BenchmarkConfig
) -> tuple[Policy, dict[str, Any]]:
    """The policy of one run (trained, built or loaded) and its training record (empty if none)."""
    if kind == "agent":
        return _train_agent(name, config, seed, cfg)
    if kind == "baseline":
        return make_reference(name, config, seed=seed), {}
    return load_policy(name, config, seed=seed), {}


def _run_one(
    task: tuple[str, str, str, int], shared: tuple[EnvConfig, dict[str, Any]], cfg: BenchmarkConfig
) -> dict[str, Any]:
    """One run: its policy trained, built or loaded, then evaluated on ``test``; returns its row.

    ``shared`` is the environment's config (traces loaded) and reference returns. An agent's
    row carries its learning curve under ``curve``. The same on a Ray worker as here.
    """
    _, kind, name, seed = task
    config, reference = shared
    policy, extra = _policy(kind, name, seed, config, cfg)
    result = evaluate_policy(policy, config, "test", name=name, reference=reference)
    result.pop("reference", None)
    result.pop("thresholds", None)
    result.update({"seed": seed, "kind": kind, **extra})
    result["env_id"], result["network"] = task[0], config.settings.network  # the label: id [and network]
    result["exit_names"] = list(config.load_traces("test").meta.get("exit_names") or [])
    return result


def _run_all(
    tasks: list[tuple[str, str, str, int]], shared: dict[str, Any], cfg: BenchmarkConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every run: one after the other, in ``cfg.jobs`` local processes, or as Ray tasks
    (``cfg.ray``); returns (rows in task order, failed runs)."""
    from tqdm import tqdm

    def describe(task: tuple[str, str, str, int]) -> str:
        return f"{task[0].removeprefix('SPARQ')} {task[2]} s{task[3]}"

    if cfg.ray is not None:
        from agents.integrations.ray_runner import run_benchmark_tasks

        run = functools.partial(_run_one, cfg=cfg)
        return run_benchmark_tasks(run, tasks, shared, cfg.ray, describe=describe, progress=cfg.progress)
    bar = tqdm(total=len(tasks), desc="benchmark", unit="run", disable=not cfg.progress, file=sys.stderr)
    jobs = cfg.job_count()
    if jobs == 1 or len(tasks) < 2:
        rows = []
        for task in tasks:
            bar.set_postfix_str(describe(task))
            rows.append(_run_one(task, shared[task[0]], cfg))
            bar.update()
        bar.close()
        return rows, []
    return _run_in_processes(tasks, shared, cfg, jobs, bar, describe), []


_FORKED: dict[str, Any] = {}
"""What the worker processes of :func:`_run_in_processes` inherit (fork): the tasks' shared
configs (traces and tables loaded once, in the parent) and the benchmark's config."""


def _run_forked(index: int) -> tuple[int, dict[str, Any]]:
    import torch

    torch.set_num_threads(_FORKED["threads"])  # the parent's setting (--threads), not torch's default
    task = _FORKED["tasks"][index]
    return index, _run_one(task, _FORKED["shared"][task[0]], _FORKED["cfg"])


def _run_in_processes(
    tasks: list[tuple[str, str, str, int]],
    shared: dict[str, Any],
    cfg: BenchmarkConfig,
    jobs: int,
    bar: Any,
    describe: Callable[[tuple[str, str, str, int]], str],
) -> list[dict[str, Any]]:
    """Every run in ``jobs`` forked worker processes, the trainings first (the longest runs), rows
    back in task order. Each run is seeded on its own, so the rows equal the serial run's."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import torch
    import torch._dynamo

    _FORKED.update(tasks=tasks, shared=shared, cfg=cfg, threads=torch.get_num_threads())
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i][1] != "agent", i))
    rows: list[dict[str, Any] | None] = [None] * len(tasks)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_run_forked, i) for i in order]
            for future in as_completed(futures):
                index, row = future.result()
                rows[index] = row
                bar.set_postfix_str(describe(tasks[index]))
                bar.update()
    finally:
        _FORKED.clear()
        bar.close()
    return [row for row in rows if row is not None]


def _check_user_policies(cfg: BenchmarkConfig, configs: dict[str, EnvConfig]) -> None:
    """Resolve every ``--policy`` on every environment it will run on, before the first run: a
    broken file, a foreign zip or a zip that records no environment fails now, naming it."""
    for spec in cfg.extra_policies:
        if is_model_zip(spec) and recorded_env_id(spec) is None:
            raise ConfigError(
                f"--policy {spec}: the zip records no environment (no policy.json or RL Zoo args.yml "
                "beside it), so it cannot be ranked; evaluate it with sparq evaluate --env ID --policy "
                f"{spec}"
            )
        targets = [
            label
            for label, env_id, _ in cfg.runs()
            if not is_model_zip(spec) or recorded_env_id(spec) == env_id
        ]
        if not targets:
            raise ConfigError(
                f"--policy {spec}: it records {recorded_env_id(spec)}, which --envs does not rank"
            )
        for label in targets:
            try:
                policy = load_policy(spec, configs[label])
                if isinstance(policy, TablePolicy):  # a table of another shape fails now, not at its run
                    policy.check_shape(configs[label].decisions("test", "multidiscrete"))
            except ConfigError:
                raise
            except Exception as err:
                raise ConfigError(f"--policy {spec}: cannot be used on {label}: {err}") from err


def run_benchmark(cfg: BenchmarkConfig, command: str = "sparq benchmark") -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; write every output; return the JSON record.

    A run that failed on Ray (after its retries) is left out of the results and listed under
    ``failed_runs`` in ``results.json``; the others are written, then the call raises
    :class:`agents.integrations.ray_runner.FailedRunsError` naming the failed ones.
    """
    out = check_output_dir(cfg.out)  # before the work: a bad --out fails at once
    agents = cfg.agent_list()
    tasks = _tasks(cfg, agents)
    curves: dict[tuple[str, str, int], Any] = {}
    # One config per environment, held for the whole run: its traces and tables load once.
    configs: dict[str, EnvConfig] = {}
    for label, env_id, network in cfg.runs():  # every trace set loads first: a missing one fails now
        configs[label] = cfg.config(env_id, network)
        for split in ("train", "test"):
            configs[label].load_traces(split)
    _check_user_policies(cfg, configs)
    labels = cfg.labels()
    start = time.perf_counter()
    fronts = {label: accuracy_cost_fronts(configs[label]) for label in labels}
    references = {label: reference_returns(configs[label], "test") for label in labels}
    shared = {label: (configs[label], references[label]) for label in labels}
    rows, failed = _run_all(tasks, shared, cfg)
    for row in rows:
        if row["kind"] == "agent":
            curves[(row["env_id"], row["policy"], row["seed"])] = row.pop("curve")
    statistics = rliable_statistics(rows, labels, reps=cfg.reps())
    aggregate = aggregate_runs(rows, statistics["per_env"])
    meta = {
        "command": command,
        "config": asdict(cfg),
        "seeds": list(cfg.seeds),
        "agents": list(agents),
        "anchors": references,
        "wall_time_s": time.perf_counter() - start,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    record: dict[str, Any] = {
        "meta": meta,
        "aggregate": aggregate,
        "runs": rows,
        "rliable": statistics,
        **({"failed_runs": failed} if failed else {}),
        "fronts": {label: {name: curve["front"] for name, curve in f.items()} for label, f in fronts.items()},
        "learning_curves": [
            {"env_id": e, "agent": a, "seed": s, "curve": c} for (e, a, s), c in curves.items()
        ],
    }
    with atomic_directory(out) as staging:  # every output file lands together
        if cfg.plots:
            record["meta"]["plots"] = write_plots(staging, rows, aggregate, fronts, curves, labels)
            record["meta"]["plots"].append(
                figure_panels(
                    staging,
                    "performance_profile.png",
                    ["all", "zoom"],
                    4.4,
                    lambda ax, panel: draw_performance_profile(
                        ax, rows, labels, reps=cfg.reps(), zoom=panel == "zoom"
                    ),
                    None,
                )
            )
        atomic_write_json(staging / "results.json", record)
        write_csv(staging / "results.csv", aggregate)
        atomic_write_text(staging / "leaderboard.md", leaderboard_markdown(aggregate, meta, statistics))
    if failed:
        from agents.integrations.ray_runner import FailedRunsError

        raise FailedRunsError(failed, str(out))
    return record
