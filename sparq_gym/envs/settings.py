"""The environment's settings: every keyword argument that changes the MDP, written once.

:class:`ExitSettings` is the one place where the reward weight, the bins, the
cost, the observation type and the network variant get their defaults and
their checks. Both environments build one from their keyword arguments, the
agents' configurations hold one, and the ``sparq`` commands make their flags
from it (:func:`add_setting_arguments`), so a default or a rule cannot drift
between entry points.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, cast

import numpy as np

from sparq_gym.checks import check_integer, check_number, is_integer
from sparq_gym.envs.costs import cost_names
from sparq_gym.errors import SettingsError
from sparq_gym.paths import DEFAULT_NETWORK, NETWORKS

__all__ = [
    "MAX_BINS",
    "OBS_TYPES",
    "RESET_OPTIONS",
    "ExitSettings",
    "ObsType",
    "RenderModes",
    "SettingsError",
    "add_setting_arguments",
    "check_reset_arguments",
    "settings_from_arguments",
]

ObsType = Literal["multidiscrete", "discrete", "box"]
OBS_TYPES: tuple[str, ...] = ("multidiscrete", "discrete", "box")

class RenderModes(list[str]):
    """An environment's ``metadata["render_modes"]``: a list whose membership test refuses a
    ``render_mode`` that is not a string with a clear :class:`SettingsError`. Gymnasium's ``make``
    asks ``render_mode not in render_modes`` before the environment checks anything, then calls
    string methods on it, so ``render_mode=1`` would end in an ``AttributeError`` inside it."""

    def __contains__(self, mode: object) -> bool:
        if mode is not None and not isinstance(mode, str):
            raise SettingsError(f"render_mode must be None or one of {list(self)}, got {mode!r}")
        return list.__contains__(self, mode)


RESET_OPTIONS: tuple[str, ...] = ("sample_index",)
"""The keys ``reset(options=...)`` reads; any other is an error, never silently ignored."""

MAX_BINS = 1000
"""Largest ``n_bins`` accepted: finer bins than 1/1000 of confidence resolve nothing that
the float16 probabilities of the traces carry, and the tables grow with B."""


def check_reset_arguments(seed: Any, options: Any, *, seed_list: bool = False) -> Any:
    """Check ``reset``'s ``seed`` and ``options``; return the seed as Python int(s).

    ``seed`` is ``None`` or an integer >= 0, numpy integers included (with ``seed_list``,
    the vector environment's, also a list of those, ``None`` allowed per slot); ``options``
    is ``None`` or a dict (its ``sample_index`` is checked by the environment, which
    knows N). Raises :class:`SettingsError` naming the bad one.
    """
    if options is not None and not isinstance(options, dict):
        raise SettingsError(
            f"options must be None or a dict such as {{'sample_index': 3}}, got {options!r}"
        )
    unknown = sorted(str(key) for key in (options or {}) if key not in RESET_OPTIONS)
    if unknown:
        raise SettingsError(f"options has unknown keys {unknown}; the only option is 'sample_index'")
    if seed_list and isinstance(seed, (list, tuple, np.ndarray)):
        return [None if one is None else check_integer(f"seed[{i}]", one, 0, error=SettingsError)
                for i, one in enumerate(seed)]
    if seed is None:
        return None
    if not is_integer(seed) or seed < 0:
        expected = "None, an integer >= 0 or a list of those" if seed_list else "None or an integer >= 0"
        raise SettingsError(f"seed must be {expected}, got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class ExitSettings:
    """The keyword arguments that define one early-exit MDP over a set of traces.

    :param alpha: weight of the savings in the reward ``+1 + alpha * s``; finite and
        non-negative (a negative weight would let a correct EXIT earn less than a wrong one
        when savings are large).
    :param n_bins: B, the number of confidence bins of the tabular observation, 1..:data:`MAX_BINS`.
    :param cost: what savings are measured in: a counter (``"synaptic_ops"``, ...),
        ``"total_ops"`` (synaptic + LIF ops; MACs for an ANN) or ``"energy:<model>"``.
    :param obs_type: ``"multidiscrete"`` (exit, bin), ``"discrete"`` (one index, for tabular
        code) or ``"box"`` (confidence, entropy, margin, one-hot exit: for deep RL).
    :param network: the network variant whose traces are replayed (``"qdsnn"``,
        ``"dynamic_ann"``, ``"snn"``, ``"multilevel"``, ``"spquant"``: :data:`sparq_gym.paths.NETWORKS`).
    """

    alpha: float = 0.3
    n_bins: int = 10
    cost: str = "total_ops"
    obs_type: ObsType = "multidiscrete"
    network: str = DEFAULT_NETWORK

    def __post_init__(self) -> None:
        """Check every setting and store numpy scalars as plain Python numbers."""
        alpha, n_bins = self.alpha, self.n_bins
        alpha = check_number("alpha", alpha, 0, error=SettingsError)
        n_bins = check_integer("n_bins", n_bins, 1, MAX_BINS, error=SettingsError)
        if not isinstance(self.cost, str) or self.cost not in cost_names():
            raise SettingsError(f"cost must be one of {list(cost_names())}, got {self.cost!r}")
        if self.obs_type not in OBS_TYPES:
            raise SettingsError(f"obs_type must be one of {list(OBS_TYPES)}, got {self.obs_type!r}")
        if self.network not in NETWORKS:
            raise SettingsError(f"network must be one of {list(NETWORKS)}, got {self.network!r}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "n_bins", n_bins)

    def to_dict(self) -> dict[str, Any]:
        """The settings as keyword arguments (what ``gym.make`` takes and saved policies record)."""
        return asdict(self)


_HELP: dict[str, str] = {
    "alpha": "weight of the savings in the reward",
    "n_bins": "number of confidence bins B",
    "cost": "what savings are measured in: a counter, total_ops or energy:<model>",
    "obs_type": "observation: multidiscrete, discrete or box",
    "network": "network variant whose traces are replayed",
}
_TYPES: dict[str, Any] = {"alpha": float, "n_bins": int, "cost": str, "obs_type": str, "network": str}


def add_setting_arguments(
    parser: argparse.ArgumentParser, names: tuple[str, ...] = ("alpha", "n_bins", "cost", "network")
) -> None:
    """Add one ``--flag`` per setting in ``names`` to ``parser``, defaults from :class:`ExitSettings`.

    The flags default to ``None`` (so a command can tell "not given" from the default, e.g.
    to take a saved policy's settings); the help text shows the dataclass default.
    """
    defaults = ExitSettings()
    for name in names:
        default = getattr(defaults, name)
        choices = OBS_TYPES if name == "obs_type" else NETWORKS if name == "network" else None
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=_TYPES[name], default=None, choices=choices,
            help=f"{_HELP[name]} (default {default})",
        )


def settings_from_arguments(args: argparse.Namespace, base: ExitSettings | None = None) -> ExitSettings:
    """:class:`ExitSettings` from parsed flags: the flags given override ``base`` (default: defaults)."""
    current = (base or ExitSettings()).to_dict()
    given = {f.name: getattr(args, f.name) for f in fields(ExitSettings)
             if getattr(args, f.name, None) is not None}
    return ExitSettings(**cast(dict[str, Any], {**current, **given}))
