"""Which traces an agent trains and is evaluated on, and the environments built from them.

Every agent, baseline and report names its problem with an :class:`EnvConfig`:
an environment id, the settings that change the MDP
(:class:`sparq_gym.envs.settings.ExitSettings`: ``alpha``, ``n_bins``, ``cost``,
``network``, written there once with their defaults) and where the traces
come from. With
``traces="auto"`` (the default) or ``"pretrained"`` the shipped traces under
``pretrained/<backbone>/<network>/`` are used, and a missing or broken directory is an
error that names it (:class:`~sparq_gym.errors.TraceError`): nothing is ever replaced
without asking. Synthetic traces shaped like the backbone (:data:`SYNTHETIC_PROFILES`)
are used only when asked for, with ``traces="synthetic"`` (tests, development, a
backbone whose traces are not built yet).

The ``train`` split is where policies learn and thresholds are tuned; the
``test`` split is only evaluated. :func:`train_validation_split` carves the
validation part used for early stopping out of ``train``, never out of ``test``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.decisions import DecisionTables
from sparq_gym.envs.families import Family, family_of
from sparq_gym.envs.settings import ExitSettings, ObsType, add_setting_arguments, settings_from_arguments
from sparq_gym.errors import ConfigError, TraceError
from sparq_gym.io import check_output_dir
from sparq_gym.traces import TraceSet, make_synthetic_traces

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = [
    "DEFAULT_ENV_ID",
    "RECORDED_SETTINGS",
    "SYNTHETIC_PROFILES",
    "TRACE_SOURCES",
    "EnvArgs",
    "EnvConfig",
    "SyntheticProfile",
    "add_env_arguments",
    "backbone_of",
    "check_out",
    "env_config_from_arguments",
    "recorded_settings",
    "settings_record",
    "train_validation_split",
]

TRACE_SOURCES: tuple[str, ...] = ("auto", "pretrained", "synthetic")
"""Where traces may come from; the first, ``auto``, is the default."""

DEFAULT_ENV_ID = "SPARQExit-LeNet-v0"
"""The environment of a config or a run that names none."""

RECORDED_SETTINGS: tuple[str, ...] = ("alpha", "n_bins", "cost", "network")
"""The settings saved policies and results record as flat keys (the observation type is the
policy's own: ``policy.json`` records it apart)."""

_Args = TypeVar("_Args", bound="EnvArgs")


@dataclass(frozen=True)
class SyntheticProfile:
    """Shape of the synthetic stand-in for one backbone's traces.

    :param exit_accuracy: probability that each head (final last) is right.
    :param exit_cost_fraction: cumulative cost of reaching each exit over the plain network.
    :param seed: base seed; ``train`` uses ``seed`` and ``test`` ``seed + 1``.
    """

    exit_accuracy: tuple[float, ...]
    exit_cost_fraction: tuple[float, ...]
    seed: int


SYNTHETIC_PROFILES: dict[str, SyntheticProfile] = {
    # Accuracies roughly follow the paper's per-exit numbers; the path through
    # every head costs a little more than the plain network, as in real traces.
    "mlp": SyntheticProfile((0.85, 0.93, 0.97), (0.35, 0.65, 1.04), seed=101),
    "lenet": SyntheticProfile((0.88, 0.95, 0.98), (0.30, 0.60, 1.05), seed=201),
    "alexnet": SyntheticProfile((0.45, 0.62, 0.76), (0.05, 0.40, 1.08), seed=301),
}
"""Synthetic trace profiles by backbone (used while the pretrained traces are missing)."""

SYNTHETIC_SIZES: dict[str, int] = {"train": 5000, "test": 10000}
"""Samples per split of the synthetic traces: the sizes of the real splits."""


def backbone_of(env_id: str) -> str | None:
    """Backbone replayed by a registered id (``None`` for a generic id such as ``SPARQExit-v0``)."""
    return family_of(env_id)[1]


def settings_record(settings: ExitSettings) -> dict[str, Any]:
    """The :data:`RECORDED_SETTINGS` of ``settings`` as a flat dict (``alpha``, ``n_bins``, ...)."""
    return {name: getattr(settings, name) for name in RECORDED_SETTINGS}


def recorded_settings(record: Mapping[str, Any]) -> ExitSettings:
    """:class:`ExitSettings` from a flat record (:func:`settings_record`); missing keys take defaults."""
    return ExitSettings(**{name: record[name] for name in RECORDED_SETTINGS if name in record})


@dataclass(frozen=True)
class EnvConfig:
    """One early-exit MDP: environment id, trace source and the environment's settings.

    A config loads its traces and builds its tables once each, on first use,
    and keeps them for as long as the caller holds it: hold one config per
    environment to reuse them (two equal configs load separately).

    :param env_id: a registered id, e.g. ``"SPARQExit-LeNet-v0"``.
    :param traces: ``"auto"`` or ``"pretrained"`` (the shipped traces; an error when they
        are missing or broken) or ``"synthetic"`` (only when asked for).
    :param trace_dir: a user trace directory (overrides ``traces``; needed for ``SPARQExit-v0``).
    :param settings: the reward and observation settings (alpha, n_bins, cost, network; the
        observation type is the default of :meth:`tables` and :meth:`make_env`).
    :param optimum_seconds: time limit of the ``exact-optimum`` search where it is a MILP (depth x
        time); past it the best known table stands in, its status says so (0: no MILP).
    """

    env_id: str = DEFAULT_ENV_ID
    traces: str = TRACE_SOURCES[0]
    trace_dir: str | None = None
    settings: ExitSettings = field(default_factory=ExitSettings)
    optimum_seconds: float = field(default=10.0, compare=False)
    _loaded: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_env_fields(self.env_id, self.traces, self.trace_dir, self.settings)

    @property
    def backbone(self) -> str | None:
        """Backbone of the id, ``None`` for a generic id."""
        return backbone_of(self.env_id)

    @property
    def family(self) -> Family:
        """The environment family of the id (:mod:`sparq_gym.envs.families`)."""
        return family_of(self.env_id)[0]

    @property
    def is_mo(self) -> bool:
        """Whether the id is an ``mo-`` (vector-reward) id, run scalarized with weights (1, alpha)."""
        return family_of(self.env_id)[2]

    def source(self) -> str:
        """Where the traces come from: ``"trace_dir"``, ``"pretrained"`` or ``"synthetic"``."""
        if self.trace_dir is not None:
            return "trace_dir"
        return "pretrained" if self.traces == "auto" else self.traces

    def _once(self, key: tuple[str, ...], build: Callable[[], Any]) -> Any:
        """``build()`` on the first call with ``key``, the kept value afterwards."""
        if key not in self._loaded:
            self._loaded[key] = build()
        return self._loaded[key]

    def load_traces(self, split: str) -> Any:
        """The traces of ``split`` (``"train"`` or ``"test"``) for this config: a :class:`TraceSet`
        or, for the depth x time family, a :class:`~sparq_gym.traces.timeset.TimeTraceSet`."""
        source = self.source()
        traces = self._once(
            ("traces", source, split),
            lambda: _read_traces(self.env_id, source, self.trace_dir, self.settings.network, split),
        )
        return traces

    def tables(self, split: str, obs_type: ObsType | None = None) -> Any:
        """The family's precomputed tables of ``split`` with this config's settings (``obs_type``
        overrides): :class:`~sparq_gym.envs.core.ExitTables` or
        :class:`~sparq_gym.envs.depth_time_core.DepthTimeTables`."""
        settings = self.settings if obs_type is None else replace(self.settings, obs_type=obs_type)
        return self._once(
            ("tables", self.source(), split, settings.obs_type),
            lambda: self.family.build_tables(
                self.load_traces(split),
                alpha=settings.alpha,
                n_bins=settings.n_bins,
                cost=settings.cost,
                obs_type=settings.obs_type,
            ),
        )

    def decisions(self, split: str, obs_type: ObsType | None = None) -> DecisionTables:
        """The tables of ``split`` as every policy reads them (:class:`DecisionTables`)."""
        decisions: DecisionTables = self.tables(split, obs_type).decisions()
        return decisions

    def make_env(self, split: str, obs_type: ObsType | None = None, **kwargs: Any) -> gym.Env[Any, Any]:
        """``gym.make`` this environment on ``split`` (extra kwargs go to the environment); an
        ``mo-`` id comes scalarized by MO-Gymnasium's ``LinearReward`` with weights (1, alpha),
        which is v0's reward."""
        import gymnasium as gym

        import sparq_gym  # noqa: F401  (registers the ids)

        return self.scalarized(gym.make(self.env_id, **self.env_kwargs(split, obs_type), **kwargs))

    def scalarized(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        """``env`` itself, or for an ``mo-`` id wrapped in MO-Gymnasium's ``LinearReward`` with
        weights (1, alpha): v0's scalar reward, what every learner and evaluation reads."""
        if not self.is_mo:
            return env
        import numpy as np
        from mo_gymnasium.wrappers import LinearReward

        return LinearReward(env, weight=np.array([1.0, self.settings.alpha]))

    def settings_kwargs(self, obs_type: str | None = None) -> dict[str, Any]:
        """The settings as environment keyword arguments: ``alpha``, ``n_bins``, ``cost``, ``obs_type``.

        The network is left out: it only chooses which shipped traces to load
        (:meth:`env_kwargs` adds it for those).
        """
        return {
            "alpha": self.settings.alpha,
            "n_bins": self.settings.n_bins,
            "cost": self.settings.cost,
            "obs_type": self.settings.obs_type if obs_type is None else obs_type,
        }

    def env_kwargs(self, split: str, obs_type: ObsType | None = None) -> dict[str, Any]:
        """Keyword arguments of ``gym.make`` / ``gym.make_vec`` for ``split``."""
        kwargs: dict[str, Any] = {"split": split, **self.settings_kwargs(obs_type)}
        source = self.source()
        if source == "trace_dir":
            kwargs["trace_dir"] = self.trace_dir
        elif source == "synthetic":
            kwargs["traces"] = self.load_traces(split)
        else:
            kwargs["network"] = self.settings.network
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what saved policies record), with the resolved trace source.

        Keys: ``env_id``, ``traces``, ``trace_dir``, the :data:`RECORDED_SETTINGS` and ``source``.
        """
        return {
            "env_id": self.env_id,
            "traces": self.traces,
            "trace_dir": self.trace_dir,
            **settings_record(self.settings),
            "source": self.source(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvConfig:
        """Inverse of :meth:`to_dict` (unknown keys such as ``source`` are ignored)."""
        places = {name: data[name] for name in ("env_id", "traces", "trace_dir") if name in data}
        return cls(**places, settings=recorded_settings(data))


@dataclass
class EnvArgs:
    """The environment part of an agent's ``Args``: which traces, and the environment's settings."""

    env_id: str = DEFAULT_ENV_ID
    """environment id: any registered one (``SPARQExit-LeNet-v0``, ``SPARQDepthTime-AlexNet-v0``,
    ``mo-SPARQExit-MLP-v0``, ``SPARQExit-v0`` with ``trace_dir``, ...)"""
    traces: str = TRACE_SOURCES[0]
    """trace source: ``auto`` = ``pretrained`` (the shipped traces; missing ones are an error) or
    ``synthetic`` (only when asked for)"""
    trace_dir: str | None = None
    """your own trace directory (for ``SPARQExit-v0`` / ``SPARQDepthTime-v0``)"""
    settings: ExitSettings = field(default_factory=ExitSettings)
    """the environment's settings: reward weight alpha (paper: 0.3), bins B, cost, network"""

    def __post_init__(self) -> None:
        """Check the environment fields (:class:`~sparq_gym.errors.ConfigError` names the wrong one)."""
        _check_env_fields(self.env_id, self.traces, self.trace_dir, self.settings)

    @classmethod
    def for_env(cls: type[_Args], config: EnvConfig, **values: Any) -> _Args:
        """Args of a run on the environment ``config``; ``values`` set the other fields."""
        return cls(
            env_id=config.env_id, traces=config.traces, trace_dir=config.trace_dir, settings=config.settings,
            **values,
        )

    def env_config(self, held: EnvConfig | None = None) -> EnvConfig:
        """The environment this run trains on.

        ``held`` is a config of the same environment that the caller holds (its
        loaded traces and tables are then reused); without it a new config is made.
        """
        config = EnvConfig(self.env_id, self.traces, self.trace_dir, self.settings)
        if held is None:
            return config
        if held != config:
            raise ValueError(f"the environment passed ({held}) is not the one the args name ({config})")
        return held

    def record(self) -> dict[str, Any]:
        """JSON-able form of the args (what ``policy.json`` saves), the settings as flat keys."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}
        return {**values, **settings_record(self.settings)}


def add_env_arguments(parser: argparse.ArgumentParser, *, env_required: bool = True) -> None:
    """Add ``--env``, ``--traces``, ``--trace-dir`` and the settings' flags to ``parser``.

    Every flag defaults to ``None`` so that a command can tell a flag given from
    one left out (:func:`env_config_from_arguments` takes the left-out ones from a
    saved policy's environment, then from the defaults).
    """
    parser.add_argument(
        "--env", required=env_required, default=None, help="environment id, e.g. SPARQExit-LeNet-v0"
    )
    parser.add_argument(
        "--traces",
        default=None,
        choices=TRACE_SOURCES,
        help="trace source (default auto = pretrained: the shipped traces, an error when they are "
        "missing; synthetic only when asked for)",
    )
    parser.add_argument("--trace-dir", default=None, help="your own trace directory (SPARQExit-v0)")
    add_setting_arguments(parser, RECORDED_SETTINGS)


def env_config_from_arguments(args: argparse.Namespace, saved: Mapping[str, Any] | None = None) -> EnvConfig:
    """The environment of a command: flags given win, then the record ``saved``, then the defaults.

    ``saved`` is a saved policy's environment record (:meth:`EnvConfig.to_dict`);
    ``--env`` may be left out only when it names an ``env_id``.
    """
    saved = saved or {}
    env_id = args.env or saved.get("env_id")
    if env_id is None:
        raise ConfigError("pass --env ID (no saved policy among --policy records an environment)")
    return EnvConfig(
        env_id=env_id,
        traces=args.traces if args.traces is not None else saved.get("traces", TRACE_SOURCES[0]),
        trace_dir=args.trace_dir if args.trace_dir is not None else saved.get("trace_dir"),
        settings=settings_from_arguments(args, recorded_settings(saved)),
    )


def _check_env_fields(env_id: Any, traces: Any, directory: Any, settings: Any) -> None:
    """The checks of :class:`EnvConfig` and :class:`EnvArgs`: id, trace source, trace folder, settings."""
    if not isinstance(env_id, str):
        raise ConfigError(f"env_id (--env) must be an environment id string, got {env_id!r}")
    if not isinstance(traces, str) or traces not in TRACE_SOURCES:
        raise ConfigError(f"traces (--traces) must be one of {list(TRACE_SOURCES)}, got {traces!r}")
    if directory is not None and not isinstance(directory, str):
        raise ConfigError(f"trace_dir (--trace-dir) must be a folder path string, got {directory!r}")
    if not isinstance(settings, ExitSettings):
        raise ConfigError(f"settings must be an ExitSettings, got {settings!r}")
    if backbone_of(env_id) is None and directory is None:
        raise ConfigError(f"{env_id} needs trace_dir=PATH (--trace-dir: your own traces)")


def check_out(out: Any) -> None:
    """Check an ``out`` field before a run: ``None`` or a folder that can be written (see
    :func:`sparq_gym.io.check_output_dir`)."""
    if out is None:
        return
    if not isinstance(out, str) or not out:
        raise ConfigError(f"out (--out) must be None or a folder path string, got {out!r}")
    check_output_dir(out)


def _read_traces(env_id: str, source: str, directory: str | None, network: str, split: str) -> Any:
    """Read (or, for ``source="synthetic"``, make) the traces of ``split`` in the id's family."""
    family, backbone, _ = family_of(env_id)
    if source == "trace_dir":
        return family.load_traces(backbone, trace_dir_path=str(directory), network=network, split=split)
    if source == "pretrained":
        path = family.shipped_dir(str(backbone), network)
        if not (path / "manifest.json").is_file():
            raise TraceError(
                f"{path}: the shipped traces of {env_id} ({backbone}, {network}) are missing "
                f"(no manifest.json; is SPARQ_PRETRAINED right?); build them with "
                f"`sparq backbone pipeline {backbone}`, or ask for synthetic ones with --traces synthetic"
            )
        try:
            return family.load_traces(backbone, network=network, split=split)
        except (TraceError, OSError) as err:
            raise TraceError(f"the shipped traces of {env_id} in {path} are broken: {err}") from err
    profile = SYNTHETIC_PROFILES[str(backbone)]
    if split not in SYNTHETIC_SIZES:
        raise ConfigError(f"split must be one of {list(SYNTHETIC_SIZES)}, got {split!r}")
    if family.name != "exit":
        seed = profile.seed + (split == "test")
        return family.make_synthetic(SYNTHETIC_SIZES[split], seed=seed, split=split)
    traces = make_synthetic_traces(
        SYNTHETIC_SIZES[split],
        n_exits=len(profile.exit_accuracy),
        exit_accuracy=profile.exit_accuracy,
        exit_cost_fraction=profile.exit_cost_fraction,
        seed=profile.seed + (split == "test"),
        split=split,
    )
    meta = {**traces.meta, "backbone": f"synthetic-{backbone}"}
    return TraceSet(**traces.arrays(), meta=meta, split=split)


def train_validation_split(
    n_samples: int, validation_fraction: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split ``range(n_samples)`` of the ``train`` split into (learn, validation) indices.

    The validation part (``validation_fraction`` of the samples, at least one
    when the fraction is positive) is drawn with a generator seeded by ``seed``;
    both parts are returned sorted. Early stopping reads only the validation
    part, so the ``test`` split is never used for model selection.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_val = round(validation_fraction * n_samples)
    if validation_fraction > 0:
        n_val = max(n_val, 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
