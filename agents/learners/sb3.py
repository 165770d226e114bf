"""Stable-baselines3 DQN and PPO, and sb3-contrib's MaskablePPO, on every SPARQ environment family.

Each goes through SB3's public API only: the algorithm class, ``learn`` with a callback,
``predict`` and ``save``/``load``. MaskablePPO reads the environment's ``action_masks()``;
DQN and PPO see no mask: a masked choice is taken as EXIT by the environment (spec §9), as
in evaluation. Hyperparameters come from ``agents/hyperparams/<zoo name>.yml`` (``dqn``,
``ppo``, ``ppo_mask``), RL Zoo's own format (one file per algorithm
keyed by environment id; ``n_timesteps``, ``policy``, ``n_envs``, the constructor
arguments and ``env_kwargs``), so ``python -m rl_zoo3.train -conf`` reads the same
file; ``Args`` fields override them. The agent trains on the ``train``
split minus a held-out validation part; every :data:`EVAL_FREQ` steps :class:`KeepBest`
measures the deterministic policy on that validation part, every sample once (the
evaluation every policy gets, :func:`agents.policy.decide_places`, as the Q-learner's
validation pass does), and the best evaluated weights are kept (the analogue of the
Q-learner's early stopping). ``test`` is never touched during training.

A saved run holds ``model.zip`` (SB3's own format: JSON data + torch state
dicts), ``policy.json`` (algorithm, hyperparameters, environment, training
steps, wall time, evaluation curve) and loads back as a batched policy with
:func:`agents.loading.load_policy`.
"""

from __future__ import annotations

import copy
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import yaml
from numpy.typing import NDArray
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.common import EnvArgs, EnvConfig, check_out, train_validation_split
from agents.policy import POLICY_FILE, decide_places, verified_file
from sparq_gym.checks import check_choice, check_integer, check_number
from sparq_gym.envs.decisions import DecisionTables, subset_decisions
from sparq_gym.envs.settings import ObsType
from sparq_gym.errors import ConfigError
from sparq_gym.io import atomic_directory, atomic_write_bytes, atomic_write_json, sha256_file

__all__ = [
    "ALGORITHMS",
    "ZOO_NAMES",
    "Args",
    "InOrder",
    "KeepBest",
    "SB3Policy",
    "SB3Result",
    "hyperparams_file",
    "load_hyperparams",
    "load_sb3_policy",
    "summary",
    "summary_record",
    "train",
]

ALGORITHMS: tuple[str, ...] = ("dqn", "ppo", "maskable-ppo")
"""The learners, by the names of ``sparq train``."""
ZOO_NAMES: dict[str, str] = {"dqn": "dqn", "ppo": "ppo", "maskable-ppo": "ppo_mask"}
"""RL Zoo's name of each learner (its hyperparameter file is ``agents/hyperparams/<zoo name>.yml``)."""

MAX_TIMESTEPS = 100_000_000
"""Largest training budget accepted (hours of training on a CPU; a larger one is a typo)."""
HYPERPARAMS_DIR = Path(__file__).parent.parent / "hyperparams"
"""``<algo>.yml`` per algorithm, in RL Zoo's format."""
EVAL_FREQ = 2500
"""Training steps between two validation evaluations of ``sparq train`` (RL Zoo: ``--eval-freq``)."""
_NOT_SB3_KEYS = ("n_timesteps", "n_envs", "policy", "env_kwargs")


@dataclass
class Args(EnvArgs):
    """Configuration of one SB3 run; ``None`` fields take the YAML value.

    The environment fields come from :class:`agents.common.EnvArgs`; the
    observation the agent reads is ``obs_type`` (or the YAML's), not ``settings.obs_type``.
    """

    algo: str = "ppo"
    """``dqn``, ``ppo`` or ``maskable-ppo`` (sb3-contrib; for a family with action masks)"""
    seed: int = 0
    """seed of SB3 (networks, exploration), the environments and the validation split"""
    n_timesteps: int | None = None
    """training steps (YAML ``n_timesteps`` when ``None``)"""
    obs_type: str | None = None
    """observation type (YAML ``obs_type`` when ``None``)"""
    validation_fraction: float = 0.2
    """fraction of the train split held out for the evaluation callback"""
    hyperparams_file: str | None = None
    """RL Zoo YAML file to read instead of ``agents/hyperparams/<algo>.yml``"""
    tensorboard: str | None = None
    """directory for SB3's TensorBoard logs (``None``: none)"""
    out: str | None = None
    """directory to save ``model.zip`` + ``policy.json``; ``None`` saves nothing"""
    verbose: int = 0
    """SB3 verbosity"""

    def __post_init__(self) -> None:
        """Check every field (a :class:`~sparq_gym.errors.ConfigError` names the one that is wrong)."""
        super().__post_init__()
        check_choice("algo", self.algo, ALGORITHMS)
        if self.algo == "maskable-ppo" and not self.env_config().family.masked:
            raise ConfigError(
                f"maskable-ppo needs an environment with action masks (SPARQDepthTime-*); "
                f"{self.env_id} has none: use ppo"
            )
        check_integer("seed", self.seed, 0)
        if self.n_timesteps is not None:
            check_integer("n_timesteps (--timesteps)", self.n_timesteps, 1, MAX_TIMESTEPS)
        if self.obs_type is not None:
            check_choice("obs_type (--obs-type)", self.obs_type, ("multidiscrete", "box"))
        check_number("validation_fraction", self.validation_fraction, 0, 1, low_open=True, high_open=True)
        check_integer("verbose", self.verbose, 0, 2)
        check_out(self.out)


@dataclass
class SB3Result:
    """What :func:`train` returns.

    :param policy: the trained agent as a batched exit policy.
    :param train_steps: environment steps of training.
    :param wall_time_s: training wall time.
    :param curve: validation evaluations (step, mean return).
    :param hyperparams: the hyperparameters used.
    """

    policy: SB3Policy
    train_steps: int
    wall_time_s: float
    curve: list[dict[str, float]] = field(default_factory=list)
    hyperparams: dict[str, Any] = field(default_factory=dict)


class SB3Policy:
    """An SB3 model as a batched policy (deterministic ``predict``), for any family.

    A MaskablePPO model (sb3-contrib) is given the action masks; any other model's masked
    choice is taken as EXIT by the evaluation, as the environments take it (spec §9). A
    model trained under ``VecNormalize`` acts on observations normalized with its saved
    statistics (``normalizer``), as it was trained.

    :param model: a trained SB3 algorithm.
    :param obs_type: the observation type it was trained on.
    :param name: display name.
    :param normalizer: the ``VecNormalize`` whose statistics normalize observations (``None``: none).
    """

    def __init__(self, model: Any, obs_type: str, name: str, normalizer: Any = None) -> None:
        self.model = model
        self.obs_type = obs_type
        self.name = name
        self.normalizer = normalizer
        self.masked = type(model).__name__ == "MaskablePPO"

    def _input(self, observations: Any) -> Any:
        obs = np.asarray(observations)
        return obs if self.normalizer is None else self.normalizer.normalize_obs(obs.astype(np.float32))

    def act(self, observation: Any, action_mask: NDArray[np.bool_] | None = None) -> int:
        """Greedy action for one observation (and its action mask, read by MaskablePPO)."""
        return int(
            self.act_batch(np.asarray(observation)[None], None if action_mask is None else action_mask[None])[
                0
            ]
        )

    def act_batch(
        self, observations: NDArray[Any], action_masks: NDArray[np.bool_] | None = None
    ) -> NDArray[np.int64]:
        """Greedy actions for a batch of observations (MaskablePPO: within ``action_masks``)."""
        extra = {"action_masks": action_masks} if self.masked and action_masks is not None else {}
        actions, _ = self.model.predict(self._input(observations), deterministic=True, **extra)
        return np.asarray(actions, dtype=np.int64).reshape(-1)


def hyperparams_file(algo: str) -> Path:
    """The RL Zoo hyperparameter file of ``algo``: ``agents/hyperparams/<algo>.yml``."""
    if algo not in ALGORITHMS:
        raise ValueError(f"algo must be one of {list(ALGORITHMS)}, got {algo!r}")
    return HYPERPARAMS_DIR / f"{ZOO_NAMES[algo]}.yml"


def load_hyperparams(env_id: str, algo: str, path: str | Path | None = None) -> dict[str, Any]:
    """Hyperparameters of ``algo`` for ``env_id`` from its RL Zoo file (``default`` as fallback).

    The entry as RL Zoo reads it: ``n_timesteps``, ``policy``, ``n_envs``,
    ``env_kwargs`` and the algorithm's constructor arguments, every one checked
    (:func:`check_hyperparams`): a broken file is a :class:`~sparq_gym.errors.ConfigError`
    naming it and the key, before any training.
    """
    source = Path(path) if path is not None else hyperparams_file(algo)
    try:
        with open(source) as handle:
            table = yaml.safe_load(handle)
    except OSError as err:
        raise ConfigError(f"{source}: cannot be read ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{source}: not valid YAML{line} ({getattr(err, 'problem', None) or err})") from err
    if not isinstance(table, dict):
        raise ConfigError(
            f"{source}: expected RL Zoo's format, a mapping of environment id -> hyperparameters, got "
            f"{'an empty file' if table is None else type(table).__name__}"
        )
    entry = table.get(env_id, table.get("default"))
    if entry is None:
        raise ConfigError(f"{source}: no {algo!r} hyperparameters for {env_id!r} and no 'default' entry")
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: the entry of {env_id!r} must map names to values, got {entry!r}")
    check_hyperparams(entry, algo, f"{source} [{env_id if env_id in table else 'default'}]")
    return copy.deepcopy(dict(entry))


_COUNTS = ("buffer_size", "batch_size", "n_steps", "n_epochs", "gradient_steps", "target_update_interval")
_FRACTIONS = (
    "gamma", "gae_lambda", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps",
)


def check_hyperparams(entry: dict[str, Any], algo: str, where: str) -> None:
    """Check one RL Zoo entry before any work: RL Zoo's keys, then every constructor argument is
    one of the algorithm's (a misspelt key is an error, not SB3's traceback) with a sound value
    (SB3 clamps some, e.g. a negative ``buffer_size``, without a word)."""
    import inspect

    if "n_timesteps" not in entry:
        raise ConfigError(f"{where}: lacks n_timesteps (the training budget, RL Zoo's key)")
    check_integer(f"{where}: n_timesteps", entry["n_timesteps"], 1, MAX_TIMESTEPS)
    check_integer(f"{where}: n_envs", entry.get("n_envs", 1), 1, 1024)
    env_kwargs = entry.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict) or set(env_kwargs) - {"obs_type"}:
        raise ConfigError(
            f"{where}: env_kwargs may set obs_type only, got {env_kwargs!r}; the environment's settings "
            "(alpha, n_bins, cost, network) are flags of sparq train (--alpha, ...), recorded with the run"
        )
    if "obs_type" in env_kwargs:
        check_choice(f"{where}: env_kwargs.obs_type", env_kwargs["obs_type"], ("multidiscrete", "box"))
    accepted = set(inspect.signature(_algorithm_class(algo)).parameters) - {"self", "env"}
    for key, value in entry.items():
        if key in _NOT_SB3_KEYS:
            continue
        if key not in accepted:
            import difflib

            close = difflib.get_close_matches(key, sorted(accepted), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: {key!r} is not an argument of {algo}{hint}")
        if key in _COUNTS:
            check_integer(f"{where}: {key}", value, 1)
        elif key == "learning_starts":
            check_integer(f"{where}: {key}", value, 0)
        elif key in _FRACTIONS:
            check_number(f"{where}: {key}", value, 0, 1)
        elif key == "learning_rate" and not isinstance(value, str):
            check_number(f"{where}: {key}", value, 0, low_open=True)


def _algorithm_class(algo: str) -> Any:
    if algo == "maskable-ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    from stable_baselines3 import DQN, PPO

    return {"dqn": DQN, "ppo": PPO}[algo]


class InOrder(gym.Wrapper):  # type: ignore[type-arg]
    """Make each ``reset`` of a SPARQ environment take the next sample, cycling in order.

    Any ``n`` consecutive episodes of an ``n``-sample environment then play every
    sample exactly once, whatever the first one, so SB3's ``EvalCallback`` with
    ``n_eval_episodes = n`` measures the exact validation mean return (RL Zoo's
    evaluation environment: :mod:`agents.integrations.rl_zoo`).
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.n_samples = int(env.unwrapped.tables.n_samples)  # type: ignore[attr-defined]
        self._next = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if options and "sample_index" in options:  # the caller's choice wins
            return self.env.reset(seed=seed, options=options)
        options = {**(options or {}), "sample_index": self._next}
        self._next = (self._next + 1) % self.n_samples
        return self.env.reset(seed=seed, options=options)


class KeepBest(BaseCallback):
    """Every ``eval_freq`` calls, measure the deterministic policy on every validation sample
    once (:func:`agents.policy.decide_places`, the evaluation of every policy: one batched
    ``predict`` per decision step, masks for MaskablePPO), record it, and keep the weights of
    the best evaluation: what SB3's ``EvalCallback`` with an in-order evaluation environment
    measures, without stepping it episode by episode.

    :param validation: the validation samples' decision tables (the policy's observation type).
    :param obs_type: the observation type the model reads.
    :param eval_freq: calls (vector steps) between two evaluations.
    """

    def __init__(self, validation: DecisionTables, obs_type: str, eval_freq: int) -> None:
        super().__init__()
        self.validation, self.obs_type, self.eval_freq = validation, obs_type, eval_freq
        self.params: dict[str, Any] | None = None
        self.best = -np.inf
        self.curve: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        if self.n_calls % self.eval_freq:
            return True
        policy = SB3Policy(self.model, self.obs_type, "validation")
        places = decide_places(policy, self.validation)[0]
        value = float(self.validation.place_reward[np.arange(self.validation.n_samples), places].mean())
        self.curve.append({"step": int(self.num_timesteps), "validation_return": value})
        self.logger.record("eval/mean_reward", value)
        if value > self.best:
            self.best = value
            self.params = copy.deepcopy(self.model.get_parameters())
        return True


def train(args: Args, config: EnvConfig | None = None) -> SB3Result:
    """Train ``args.algo`` on the ``train`` split of ``args.env_id``; save it when ``args.out``.

    ``config``, when given, is the environment of ``args`` as the caller holds it
    (its loaded traces are reused).
    """
    import sparq_gym  # noqa: F401  (registers the ids)

    hyper = load_hyperparams(args.env_id, args.algo, args.hyperparams_file)
    n_timesteps = int(args.n_timesteps if args.n_timesteps is not None else hyper["n_timesteps"])
    obs_type = args.obs_type or dict(hyper.get("env_kwargs") or {}).get("obs_type", "multidiscrete")
    n_envs = int(hyper.get("n_envs", 1))
    eval_freq = EVAL_FREQ
    kwargs = {k: v for k, v in hyper.items() if k not in _NOT_SB3_KEYS}

    # ---- seeding: SB3 (torch, numpy inside the algorithm), env resets, validation split ----
    seed = int(args.seed)
    config = args.env_config(config)
    traces = config.load_traces("train")
    learn_idx, val_idx = train_validation_split(traces.n_samples, args.validation_fraction, seed)
    # -----------------------------------------------------------------------------------------
    env_kwargs = config.settings_kwargs(obs_type)
    learn_traces = traces.subset(learn_idx)

    def make(subset: Any) -> gym.Env[Any, Any]:
        return config.scalarized(gym.make(args.env_id, traces=subset, **env_kwargs))

    vec_env = DummyVecEnv([lambda: Monitor(make(learn_traces)) for _ in range(n_envs)])
    vec_env.seed(seed)
    validation = subset_decisions(config.decisions("train", cast(ObsType, obs_type)), val_idx)
    n_eval_episodes = int(validation.n_samples)

    algorithm = _algorithm_class(args.algo)
    model = algorithm(
        hyper.get("policy", "MlpPolicy"),
        vec_env,
        seed=seed,
        verbose=args.verbose,
        device="cpu",
        tensorboard_log=args.tensorboard,
        **kwargs,
    )
    keep_best = KeepBest(validation, obs_type, max(eval_freq // n_envs, 1))
    callback = keep_best
    start = time.perf_counter()
    model.learn(total_timesteps=n_timesteps, callback=callback, progress_bar=False, tb_log_name=args.algo)
    wall = time.perf_counter() - start
    if keep_best.params is not None:
        model.set_parameters(keep_best.params)
    name = f"{args.algo}"
    policy = SB3Policy(model, obs_type, name)
    used = {**hyper, "n_timesteps": n_timesteps, "n_eval_episodes": n_eval_episodes}
    result = SB3Result(policy, int(model.num_timesteps), wall, keep_best.curve, used)
    if args.out is not None:
        with atomic_directory(args.out) as staging:  # model and record land together
            save_sb3(staging, result, args, config)
    vec_env.close()
    return result


def save_sb3(directory: str | Path, result: SB3Result, args: Args, config: EnvConfig) -> Path:
    """Write ``model.zip`` and ``policy.json`` to ``directory`` atomically."""
    directory = Path(directory)
    buffer = io.BytesIO()
    result.policy.model.save(buffer)
    atomic_write_bytes(directory / "model.zip", buffer.getvalue())
    record = {
        "kind": args.algo,
        "format": "sb3",
        "algo": args.algo,
        "name": args.algo,
        "obs_type": result.policy.obs_type,
        "args": args.record(),
        "env": config.to_dict(),
        "hyperparams": result.hyperparams,
        "train_steps": result.train_steps,
        "wall_time_s": result.wall_time_s,
        "curve": result.curve,
        "files": {"model.zip": sha256_file(directory / "model.zip")},
    }
    atomic_write_json(directory / POLICY_FILE, record)
    return directory


def load_sb3_policy(directory: str | Path, record: dict[str, Any]) -> SB3Policy:
    """Load a saved SB3 run (``model.zip`` + its ``policy.json`` record) as a policy."""
    directory = Path(directory)
    archive = verified_file(directory, "model.zip", record, "the SB3 model")
    algo = record.get("algo")
    if algo not in ALGORITHMS:
        raise ValueError(f"{directory / POLICY_FILE}: algo must be one of {list(ALGORITHMS)}, got {algo!r}")
    model = _algorithm_class(algo).load(archive, device="cpu")
    return SB3Policy(model, record.get("obs_type", "multidiscrete"), record.get("name", algo))


def summary_record(result: SB3Result) -> dict[str, Any]:
    """What ``sparq train dqn|ppo --json`` prints of a run: training steps, wall time, curve."""
    return {"train_steps": result.train_steps, "wall_time_s": result.wall_time_s, "curve": result.curve}


def summary(result: SB3Result) -> str:
    """One line: training steps and wall time."""
    return f"{result.train_steps} steps in {result.wall_time_s:.1f} s"
