"""Every policy x every environment x seeds -> leaderboard, CSV, JSON and plots.

For each environment the benchmark trains the learning agents (one run per
seed), builds the baselines (deterministic ones once, ``random`` per seed),
adds any user policy (``extra_policies``: specs as for ``sparq evaluate``),
evaluates everything on every ``test`` sample once (:mod:`agents.evaluation`)
and writes to ``out``:

``results.json``   every run (one row per policy x env x seed) + the aggregate + run metadata
``results.csv``    the aggregate: one row per env x policy, means and standard deviations over seeds
``leaderboard.md`` one table per environment, ranked by normalized score
``accuracy_cost.png``      accuracy vs mean total ops of every policy with the Pareto front of
                           all static threshold pairs (on ``test``: a picture, not a tuned policy)
``exit_distribution.png``  fraction of each class leaving at each exit (cf. the paper's Fig. 2)
``learning_curves.png``    validation return during training (Q-learning per episode, SB3 per step)
``performance_profile.png`` rliable performance profiles of the normalized score (runs x environments)

Over seeds every policy gets mean ± std and ``rliable``'s statistics (:mod:`agents.benchmark.statistics`):
IQM with a 95 % stratified-bootstrap CI and the probability of improvement over the paper's
Q-learner, per environment and across them.

Agents: ``q-learning`` (the paper's, gamma = 0.9), ``q-learning-gamma1``
(the same with gamma = 1), ``dqn`` and ``ppo`` (SB3). ``quick`` trains DQN and
PPO for :data:`QUICK_SB3_TIMESTEPS` steps on :data:`QUICK_SEEDS` with
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
from pathlib import Path
from typing import Any

import numpy as np

from agents.references.baselines import BASELINE_NAMES, make_baseline, threshold_policy
from agents.common import TRACE_SOURCES, EnvConfig, check_out
from agents.evaluation import evaluate_exits, evaluate_policy, reference_returns, total_ops_table
from agents.benchmark.leaderboard import aggregate_runs, leaderboard_markdown, write_csv
from agents.loading import load_policy
from agents.policy import Policy, decide_exits, format_thresholds
from agents.benchmark.statistics import draw_performance_profile, rliable_statistics
from agents.integrations.zoo import recorded_env_id
from sparq_gym.checks import check_choice, check_integer
from sparq_gym.envs.registration import sparq_env_ids
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.errors import ConfigError
from sparq_gym.io import atomic_directory, atomic_path, atomic_write_json, atomic_write_text, check_output_dir
from sparq_gym.paths import DEFAULT_NETWORK, NETWORKS

__all__ = ["AGENTS", "BOOTSTRAP_REPS", "FULL_SEEDS", "QUICK_BOOTSTRAP_REPS", "QUICK_SB3_TIMESTEPS",
           "QUICK_SEEDS", "BenchmarkConfig", "run_benchmark", "threshold_front"]

AGENTS: tuple[str, ...] = ("q-learning", "q-learning-gamma1", "dqn", "ppo")
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
    :param envs: environment ids.
    :param seeds: seeds of the learning agents and of ``random``.
    :param agents: learning agents (subset of :data:`AGENTS`); ``None``: all.
    :param baselines: baseline names.
    :param extra_policies: user policy specs (saved dirs, ``module:Name``, files).
    :param traces: trace source (``auto``, ``pretrained``, ``synthetic``).
    :param quick: the fast variant (DQN and PPO trained for QUICK_SB3_TIMESTEPS steps).
    :param sb3_timesteps: override of the YAML training budget of DQN and PPO.
    :param plots: write the PNG plots.
    :param progress: show a tqdm progress bar on stderr.
    :param bootstrap_reps: bootstrap replications (``None``: by ``quick``).
    :param ray: run every run as a Ray task: ``"local"`` or a cluster address (``None``: serial).
    :param networks: network variants every environment is run on (``network=``; default the
        binary QDSNN). A variant other than ``qdsnn`` is ranked as its own environment,
        labelled ``<env id>[<network>]`` (:func:`env_label`).
    """

    out: str
    envs: tuple[str, ...] = field(default_factory=lambda: tuple(sparq_env_ids()))
    seeds: tuple[int, ...] = FULL_SEEDS
    agents: tuple[str, ...] | None = None
    baselines: tuple[str, ...] = BASELINE_NAMES
    extra_policies: tuple[str, ...] = ()
    traces: str = TRACE_SOURCES[0]
    quick: bool = False
    sb3_timesteps: int | None = None
    plots: bool = True
    progress: bool = True
    bootstrap_reps: int | None = None
    ray: str | None = None
    networks: tuple[str, ...] = (DEFAULT_NETWORK,)

    def __post_init__(self) -> None:
        """Check every field before any work (a :class:`~sparq_gym.errors.ConfigError` names it)."""
        check_out(self.out)
        known = sparq_env_ids()
        if not self.envs:
            raise ConfigError("envs (--envs) must name at least one environment id")
        for env_id in self.envs:
            check_choice("envs (--envs)", env_id, known)
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
        self.agent_list()

    def runs(self) -> list[tuple[str, str, str]]:
        """``(label, env id, network)`` of every environment x network this run ranks."""
        return [(env_label(env_id, network), env_id, network)
                for env_id in self.envs for network in self.networks]

    def labels(self) -> tuple[str, ...]:
        """The labels of :meth:`runs`, in order."""
        return tuple(label for label, _, _ in self.runs())

    def reps(self) -> int:
        """Bootstrap replications of this run."""
        if self.bootstrap_reps is not None:
            return self.bootstrap_reps
        return QUICK_BOOTSTRAP_REPS if self.quick else BOOTSTRAP_REPS

    def agent_list(self) -> tuple[str, ...]:
        """The learning agents this run trains."""
        if self.agents is not None:
            unknown = sorted(set(self.agents) - set(AGENTS))
            if unknown:
                raise ConfigError(f"agents (--agents) must be some of {list(AGENTS)}, got unknown {unknown}")
            return tuple(self.agents)
        return AGENTS


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


def threshold_front(config: EnvConfig, split: str = "test") -> dict[str, Any]:
    """Accuracy and mean total ops of every static threshold pair, and their Pareto front.

    The front keeps the threshold policies no other one beats on both axes
    (more accurate and cheaper). Computed on ``split`` to draw the trade-off
    curve; the tuned ``static-threshold`` baseline is chosen on ``train``.
    """
    import itertools

    tables = config.tables(split)
    meta = dict(config.load_traces(split).meta)
    total_ops = total_ops_table(config, split)
    grid = [j / config.settings.n_bins for j in range(config.settings.n_bins + 1)]
    points = []
    for combo in itertools.product(grid, repeat=tables.n_early_exits):
        policy = threshold_policy(combo, config.settings.n_bins)
        metrics = evaluate_exits(tables, decide_exits(policy, tables), meta, total_ops)
        points.append(
            {
                "thresholds": format_thresholds(policy.thresholds()),
                "accuracy": metrics["accuracy"],
                "mean_total_ops": metrics["mean_total_ops"],
            }
        )
    order = sorted(points, key=lambda p: (p["mean_total_ops"], -p["accuracy"]))
    front, best_accuracy = [], -1.0
    for point in order:
        if point["accuracy"] > best_accuracy:
            front.append(point)
            best_accuracy = point["accuracy"]
    return {"points": points, "front": front}


def _save_figure(figure: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _figure(
    out: Path,
    filename: str,
    envs: Sequence[str],
    height: float,
    draw: Callable[[Any, str], None],
    legend: dict[str, Any] | None,
) -> str:
    """One PNG with a panel per environment: ``draw(ax, env_id)`` fills each; returns ``filename``.

    ``legend`` holds the keyword arguments of the legend of the last panel (``None``: the
    panels draw their own).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(envs)
    figure, axes = plt.subplots(1, n, figsize=(5.2 * n, height), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        draw(ax, env_id)
    if legend is not None:
        axes[0][-1].legend(**legend)
    figure.tight_layout()
    _save_figure(figure, out / filename)
    plt.close(figure)
    return filename


def _draw_accuracy_cost(ax: Any, env_id: str, aggregate: list[dict[str, Any]], front: dict[str, Any]) -> None:
    """Accuracy vs cost: every threshold pair, their Pareto front and every policy of ``env_id``."""
    import matplotlib.pyplot as plt

    colors = [plt.get_cmap("tab20")(i) for i in range(20)]
    style = {name: i for i, name in enumerate(dict.fromkeys(r["policy"] for r in aggregate))}
    ax.scatter(
        [p["mean_total_ops"] for p in front["points"]],
        [100 * p["accuracy"] for p in front["points"]],
        s=8,
        color="0.8",
        label="threshold pairs",
    )
    ax.plot(
        [p["mean_total_ops"] for p in front["front"]],
        [100 * p["accuracy"] for p in front["front"]],
        color="0.4",
        lw=1,
        label="threshold Pareto front",
    )
    for r in (r for r in aggregate if r["env_id"] == env_id):
        i = style[r["policy"]]  # the same marker and colour for a policy in every panel
        ax.scatter(
            r["mean_total_ops"],
            100 * r["accuracy"],
            marker="os^Dv<>p"[i % 8],
            color=colors[(2 * i) % 20 + (i // 10) % 2],
            s=40,
            label=r["policy"],
            zorder=3,
        )
    ax.set_xlabel("mean total ops per sample")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(env_id)


def _draw_exit_distribution(ax: Any, env_id: str, rows: list[dict[str, Any]]) -> None:
    """Exit distribution per class (the reference agent, seed of the first row)."""
    candidates = [r for r in rows if r["env_id"] == env_id and r["policy"] == "q-learning"] or [
        r for r in rows if r["env_id"] == env_id and r["policy"] == "exact-optimum"
    ]
    if not candidates:
        return
    row = candidates[0]
    per_class = np.array(row["exit_distribution_per_class"])
    bottom = np.zeros(per_class.shape[0])
    names = row.get("exit_names") or [f"exit{e + 1}" for e in range(per_class.shape[1] - 1)] + ["final"]
    for e in range(per_class.shape[1]):
        ax.bar(np.arange(per_class.shape[0]), 100 * per_class[:, e], bottom=bottom, label=names[e])
        bottom += 100 * per_class[:, e]
    ax.set_xlabel("class")
    ax.set_ylabel("samples leaving at each exit (%)")
    ax.set_title(f"{env_id}: {row['policy']} (seed {row['seed']})")
    ax.set_xticks(np.arange(per_class.shape[0]))


def _draw_learning_curves(ax: Any, env_id: str, curves: dict[tuple[str, str, int], Any]) -> None:
    """Learning curves: mean over seeds of the validation return, per agent."""
    agents = dict.fromkeys(agent for (env, agent, _), c in curves.items() if env == env_id and c)
    for agent in agents:
        runs = [c for (env, a, _), c in curves.items() if env == env_id and a == agent and c]
        length = min(len(c) for c in runs)
        x = np.mean([[p["x"] for p in c[:length]] for c in runs], axis=0)
        y = np.array([[p["validation_return"] for p in c[:length]] for c in runs])
        ax.plot(x, y.mean(axis=0), lw=1.2, label=f"{agent} ({len(runs)} seeds)")
        ax.fill_between(x, y.min(axis=0), y.max(axis=0), alpha=0.15)
    ax.set_xlabel("training steps (decisions)")
    ax.set_ylabel("validation return")
    ax.set_title(env_id)
    if agents:
        ax.legend(fontsize=7)


def _plots(
    out: Path,
    rows: list[dict[str, Any]],
    aggregate: list[dict[str, Any]],
    fronts: dict[str, Any],
    curves: dict[tuple[str, str, int], Any],
    envs: Sequence[str],
) -> list[str]:
    """Write the three PNGs; return their names."""
    return [
        _figure(
            out, "accuracy_cost.png", envs, 4.4,
            lambda ax, env_id: _draw_accuracy_cost(ax, env_id, aggregate, fronts[env_id]),
            {"fontsize": 7, "loc": "lower right"},
        ),
        _figure(
            out, "exit_distribution.png", envs, 3.8,
            lambda ax, env_id: _draw_exit_distribution(ax, env_id, rows), {"fontsize": 8},
        ),
        _figure(
            out, "learning_curves.png", envs, 3.8,
            lambda ax, env_id: _draw_learning_curves(ax, env_id, curves), None,
        ),
    ]


def env_label(env_id: str, network: str) -> str:
    """The leaderboard's name of ``env_id`` run on ``network``: the id itself for the default network."""
    return env_id if network == DEFAULT_NETWORK else f"{env_id}[{network}]"


def _tasks(cfg: BenchmarkConfig, agents: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(environment label, kind, name, seed) of every run, environment after environment."""
    baselines = [b for b in cfg.baselines if b != "random"]
    tasks: list[tuple[str, str, str, int]] = []
    for label, env_id, _ in cfg.runs():
        tasks += [(label, "baseline", name, 0) for name in baselines]
        if "random" in cfg.baselines:
            tasks += [(label, "baseline", "random", seed) for seed in cfg.seeds]
        tasks += [(label, "agent", agent, seed) for agent in agents for seed in cfg.seeds]
        # a model zip that records its environment runs on that environment only
        tasks += [(label, "user", spec, 0) for spec in cfg.extra_policies
                  if recorded_env_id(spec) in (None, env_id)]
    return tasks


def _policy(
    kind: str, name: str, seed: int, config: EnvConfig, cfg: BenchmarkConfig
) -> tuple[Policy, dict[str, Any]]:
    """The policy of one run (trained, built or loaded) and its training record (empty if none)."""
    if kind == "agent":
        return _train_agent(name, config, seed, cfg)
    if kind == "baseline":
        return make_baseline(name, config, seed=seed), {}
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
    result["exit_names"] = list(config.load_traces("test").exit_names)
    return result


def _run_all(
    tasks: list[tuple[str, str, str, int]], shared: dict[str, Any], cfg: BenchmarkConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every run, one after the other or as Ray tasks (``cfg.ray``): (rows, failed runs)."""
    from tqdm import tqdm

    def describe(task: tuple[str, str, str, int]) -> str:
        return f"{task[0].removeprefix('SPARQExit-')} {task[2]} s{task[3]}"

    if cfg.ray is not None:
        from agents.integrations.ray_runner import run_benchmark_tasks

        run = functools.partial(_run_one, cfg=cfg)
        return run_benchmark_tasks(run, tasks, shared, cfg.ray, describe=describe, progress=cfg.progress)
    rows = []
    bar = tqdm(tasks, desc="benchmark", unit="run", disable=not cfg.progress, file=sys.stderr)
    for task in bar:
        bar.set_postfix_str(describe(task))
        rows.append(_run_one(task, shared[task[0]], cfg))
    return rows, []


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
    fronts: dict[str, Any] = {}
    # One config per environment, held for the whole run: its traces and tables load once.
    configs: dict[str, EnvConfig] = {}
    for label, env_id, network in cfg.runs():  # every trace set loads first: a missing one fails now
        configs[label] = EnvConfig(env_id=env_id, traces=cfg.traces, settings=ExitSettings(network=network))
        for split in ("train", "test"):
            configs[label].load_traces(split)
    labels = cfg.labels()
    references: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for label in labels:
        fronts[label] = threshold_front(configs[label])
        references[label] = reference_returns(configs[label], "test")
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
        "threshold_fronts": {k: v["front"] for k, v in fronts.items()},
        "learning_curves": [
            {"env_id": e, "agent": a, "seed": s, "curve": c} for (e, a, s), c in curves.items()
        ],
    }
    with atomic_directory(out) as staging:  # every output file lands together
        if cfg.plots:
            record["meta"]["plots"] = _plots(staging, rows, aggregate, fronts, curves, labels)
            record["meta"]["plots"].append(
                _figure(staging, "performance_profile.png", ["all", "zoom"], 4.4,
                        lambda ax, panel: draw_performance_profile(ax, rows, labels, reps=cfg.reps(),
                                                                   zoom=panel == "zoom"), None)
            )
        atomic_write_json(staging / "results.json", record)
        write_csv(staging / "results.csv", aggregate)
        atomic_write_text(staging / "leaderboard.md", leaderboard_markdown(aggregate, meta, statistics))
    if failed:
        from agents.integrations.ray_runner import FailedRunsError

        raise FailedRunsError(failed, str(out))
    return record
