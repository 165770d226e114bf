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

Agents: ``q-learning`` (the paper's, gamma = 0.9), ``q-learning-gamma1``
(the same with gamma = 1), ``dqn`` and ``ppo`` (SB3). ``quick`` trains DQN and
PPO for :data:`QUICK_SB3_TIMESTEPS` steps (everything else is the same: three
seeds, three environments; about a minute on two cores); the full run uses the
budgets of ``agents/hyperparams.yaml``. SB3 runs use one torch thread
(``--threads``), several times faster than the default on a small CPU.
"""

from __future__ import annotations

import csv
import io
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import BASELINE_NAMES, make_baseline, threshold_policy
from agents.common import TRACE_SOURCES, EnvConfig
from agents.evaluation import evaluate_exits, evaluate_policy, reference_returns, total_ops_table
from agents.loading import load_policy
from agents.policy import Policy, decide_exits, format_thresholds
from sparq_gym.envs.registration import sparq_env_ids
from sparq_gym.io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["AGENTS", "QUICK_SB3_TIMESTEPS", "BenchmarkConfig", "run_benchmark", "threshold_front"]

AGENTS: tuple[str, ...] = ("q-learning", "q-learning-gamma1", "dqn", "ppo")
QUICK_SB3_TIMESTEPS = 5_000
"""Training steps of DQN and PPO in ``--quick`` runs (the YAML budgets otherwise)."""
_METRICS: tuple[str, ...] = (
    "normalized_score",
    "mean_return",
    "accuracy",
    "mean_savings",
    "mean_synaptic_ops",
    "mean_total_ops",
    "mean_energy_j",
)


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
    """

    out: str
    envs: tuple[str, ...] = field(default_factory=lambda: tuple(sparq_env_ids()))
    seeds: tuple[int, ...] = (0, 1, 2)
    agents: tuple[str, ...] | None = None
    baselines: tuple[str, ...] = BASELINE_NAMES
    extra_policies: tuple[str, ...] = ()
    traces: str = TRACE_SOURCES[0]
    quick: bool = False
    sb3_timesteps: int | None = None
    plots: bool = True
    progress: bool = True

    def agent_list(self) -> tuple[str, ...]:
        """The learning agents this run trains."""
        if self.agents is not None:
            unknown = sorted(set(self.agents) - set(AGENTS))
            if unknown:
                raise ValueError(f"unknown agents {unknown}; expected some of {list(AGENTS)}")
            return tuple(self.agents)
        return AGENTS


def _train_agent(
    agent: str, config: EnvConfig, seed: int, cfg: BenchmarkConfig
) -> tuple[Policy, dict[str, Any]]:
    """Train one agent; return its policy and a record (train steps, wall time, curve)."""
    if agent.startswith("q-learning"):
        from agents import q_learning

        args = q_learning.Args.for_env(config, seed=seed, gamma=1.0 if agent == "q-learning-gamma1" else 0.9)
        result = q_learning.train(args, config)
        result.policy.name = agent
        return result.policy, {
            "train_steps": result.steps,
            "train_episodes": result.episodes,
            "wall_time_s": result.wall_time_s,
            "curve": [{"x": c["steps"], "validation_return": c["validation_return"]} for c in result.curve],
        }
    from agents import sb3

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


def _aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["env_id"], row["policy"]), []).append(row)
    table = []
    for (env_id, policy), members in groups.items():
        record: dict[str, Any] = {"env_id": env_id, "policy": policy, "n_seeds": len(members)}
        for key in _METRICS:
            values = np.array([m[key] for m in members], dtype=float)
            record[key] = float(np.mean(values))
            record[f"{key}_std"] = float(np.std(values))
        record["exit_distribution"] = np.mean([m["exit_distribution"] for m in members], axis=0).tolist()
        steps = [float(m["train_steps"]) for m in members if m.get("train_steps") is not None]
        walls = [float(m["wall_time_s"]) for m in members if m.get("wall_time_s") is not None]
        record["train_steps"] = float(np.mean(steps)) if steps else None
        record["wall_time_s"] = float(np.mean(walls)) if walls else None
        record["thresholds_text"] = members[0].get("thresholds_text")
        record["traces"] = members[0]["traces"]
        table.append(record)
    env_order = {env_id: i for i, env_id in enumerate(dict.fromkeys(r["env_id"] for r in rows))}
    table.sort(key=lambda r: (env_order[r["env_id"]], -np.nan_to_num(r["normalized_score"], nan=-1e9)))
    return table


def _leaderboard(aggregate: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# sparq_gym leaderboard",
        "",
        f"Command: `{meta['command']}`. Evaluation: every `test` sample once. Normalized score = "
        "(R - R_always-final) / (R_exact-optimum - R_always-final); exact optimum tuned on `train`. "
        f"Learning agents: mean ± std over seeds {list(meta['seeds'])}.",
        "",
    ]
    for env_id in dict.fromkeys(r["env_id"] for r in aggregate):
        rows = [r for r in aggregate if r["env_id"] == env_id]
        lines += [
            f"## {env_id} (traces: {rows[0]['traces']})",
            "",
            "| # | policy | norm. score | return | accuracy | savings | total ops | energy (µJ) "
            "| exits (%) | thresholds | train steps | train wall (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rank, r in enumerate(rows, 1):
            std = f" ± {r['normalized_score_std']:.3f}" if r["n_seeds"] > 1 else ""
            exits = "/".join(f"{100 * f:.0f}" for f in r["exit_distribution"])
            train = "" if r["train_steps"] is None else f"{r['train_steps']:.0f}"
            wall = "" if r["wall_time_s"] is None else f"{r['wall_time_s']:.2f}"
            lines.append(
                f"| {rank} | {r['policy']} | {r['normalized_score']:.3f}{std} | {r['mean_return']:.4f} "
                f"| {100 * r['accuracy']:.2f}% | {r['mean_savings']:.3f} | {r['mean_total_ops']:.4g} "
                f"| {1e6 * r['mean_energy_j']:.4g} | {exits} | {r['thresholds_text'] or ''} "
                f"| {train} | {wall} |"
            )
        lines.append("")
    return "\n".join(lines)


def _write_csv(path: Path, aggregate: list[dict[str, Any]]) -> None:
    columns = [
        "env_id",
        "policy",
        "n_seeds",
        *[k for m in _METRICS for k in (m, f"{m}_std")],
        "exit_distribution",
        "thresholds_text",
        "train_steps",
        "wall_time_s",
        "traces",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in aggregate:
        writer.writerow({**row, "exit_distribution": " ".join(f"{f:.4f}" for f in row["exit_distribution"])})
    atomic_write_text(path, buffer.getvalue())


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


def _tasks(cfg: BenchmarkConfig, agents: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """(environment, kind, name, seed) of every run, environment after environment."""
    baselines = [b for b in cfg.baselines if b != "random"]
    tasks: list[tuple[str, str, str, int]] = []
    for env_id in cfg.envs:
        tasks += [(env_id, "baseline", name, 0) for name in baselines]
        if "random" in cfg.baselines:
            tasks += [(env_id, "baseline", "random", seed) for seed in cfg.seeds]
        tasks += [(env_id, "agent", agent, seed) for agent in agents for seed in cfg.seeds]
        tasks += [(env_id, "user", spec, 0) for spec in cfg.extra_policies]
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


def run_benchmark(cfg: BenchmarkConfig, command: str = "sparq benchmark") -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; write every output; return the JSON record."""
    from tqdm import tqdm

    out = Path(cfg.out)
    agents = cfg.agent_list()
    tasks = _tasks(cfg, agents)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str, int], Any] = {}
    fronts: dict[str, Any] = {}
    # One config per environment, held for the whole run: its traces and tables load once.
    configs: dict[str, EnvConfig] = {}
    references: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    bar = tqdm(tasks, desc="benchmark", unit="run", disable=not cfg.progress, file=sys.stderr)
    for env_id, kind, name, seed in bar:
        bar.set_postfix_str(f"{env_id.removeprefix('SPARQExit-')} {name} s{seed}")
        if env_id not in configs:
            configs[env_id] = EnvConfig(env_id=env_id, traces=cfg.traces)
            fronts[env_id] = threshold_front(configs[env_id])
            references[env_id] = reference_returns(configs[env_id], "test")
        config = configs[env_id]
        policy, extra = _policy(kind, name, seed, config, cfg)
        if kind == "agent":
            curves[(env_id, name, seed)] = extra.pop("curve")
        result = evaluate_policy(policy, config, "test", name=name, reference=references[env_id])
        result.pop("reference", None)
        result.pop("thresholds", None)
        result.update({"seed": seed, "kind": kind, **extra})
        result["exit_names"] = list(config.load_traces("test").exit_names)
        rows.append(result)
    aggregate = _aggregate(rows)
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
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "meta": meta,
        "aggregate": aggregate,
        "runs": rows,
        "threshold_fronts": {k: v["front"] for k, v in fronts.items()},
        "learning_curves": [
            {"env_id": e, "agent": a, "seed": s, "curve": c} for (e, a, s), c in curves.items()
        ],
    }
    if cfg.plots:
        record["meta"]["plots"] = _plots(out, rows, aggregate, fronts, curves, cfg.envs)
    atomic_write_json(out / "results.json", record)
    _write_csv(out / "results.csv", aggregate)
    atomic_write_text(out / "leaderboard.md", _leaderboard(aggregate, meta))
    return record
