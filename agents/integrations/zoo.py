"""Any SB3 / RL Zoo model zip as an exit policy, with the environment it was trained on.

``sparq evaluate --policy PATH.zip`` and ``sparq benchmark --policy PATH.zip``
take the file that ``model.save`` or ``python -m rl_zoo3.train`` writes:

- the algorithm is read from the zip's ``data`` (its policy class's module and
  the algorithm's own keys, :func:`zip_algorithm`), never guessed from the name;
- the environment kwargs it was trained with are read where they are recorded
  (:func:`zip_env_record`): RL Zoo's ``<env id>/config.yml`` and ``args.yml`` beside
  the zip, or ``policy.json`` beside a ``model.zip`` that ``sparq train`` wrote;
- the observation type follows from the model's observation space, and the
  environment's space must equal it (:func:`check_observation_space`).
"""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agents.common import RECORDED_SETTINGS
from agents.policy import POLICY_FILE
from sparq_gym.errors import ConfigError, PolicyError
from sparq_gym.io import read_json

__all__ = [
    "check_observation_space",
    "is_model_zip",
    "load_vecnormalize",
    "load_zip_policy",
    "observation_type_of",
    "read_zoo_yaml",
    "recorded_env_id",
    "vecnormalize_file",
    "zip_algorithm",
    "zip_env_record",
]

# (module of the saved policy class, key the algorithm's data holds or None) -> algorithm class.
_ALGORITHMS: tuple[tuple[str, str | None, str], ...] = (
    ("stable_baselines3.dqn.policies", None, "stable_baselines3:DQN"),
    ("stable_baselines3.sac.policies", None, "stable_baselines3:SAC"),
    ("stable_baselines3.td3.policies", "policy_delay", "stable_baselines3:TD3"),
    ("sb3_contrib.qrdqn.policies", None, "sb3_contrib:QRDQN"),
    ("sb3_contrib.common.maskable.policies", None, "sb3_contrib:MaskablePPO"),
    ("sb3_contrib.common.recurrent.policies", None, "sb3_contrib:RecurrentPPO"),
    ("sb3_contrib.tqc.policies", None, "sb3_contrib:TQC"),
    ("stable_baselines3.common.policies", "cg_max_steps", "sb3_contrib:TRPO"),
    ("stable_baselines3.common.policies", "clip_range", "stable_baselines3:PPO"),
    ("stable_baselines3.common.policies", "n_steps", "stable_baselines3:A2C"),
)
_OBS_TYPES = {"MultiDiscrete": "multidiscrete", "Discrete": "discrete", "Box": "box"}


def is_model_zip(spec: str) -> bool:
    """Whether ``spec`` names an existing ``.zip`` file (an SB3 / RL Zoo model)."""
    return spec.endswith(".zip") and Path(spec).is_file()


def _zip_data(path: Path) -> dict[str, Any]:
    """The JSON ``data`` entry of an SB3 zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            data: dict[str, Any] = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise ValueError(f"{path}: not an SB3 model zip (no readable 'data' entry: {err})") from err
    return data


def zip_algorithm(path: str | Path) -> str:
    """The algorithm class (``"package:Class"``) that saved the zip at ``path``.

    Read from the zip's data: the module of its policy class and, for the
    actor-critic algorithms that share one policy class, a key only that
    algorithm saves (``clip_range`` for PPO, ``cg_max_steps`` for TRPO).
    """
    data = _zip_data(Path(path))
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for policy_module, key, algorithm in _ALGORITHMS:
        if module == policy_module and (key is None or key in data):
            return algorithm
    raise ValueError(f"{path}: cannot tell the algorithm from its policy class {module!r}")


def observation_type_of(space: Any) -> str:
    """The environment's ``obs_type`` whose observation space has the class of ``space``."""
    name = type(space).__name__
    if name not in _OBS_TYPES:
        raise ValueError(f"a SPARQ environment has no observation space like {space}")
    return _OBS_TYPES[name]


class _ZooLoader(yaml.SafeLoader):
    """Safe YAML loader that also reads RL Zoo's ``OrderedDict`` dumps (config.yml, args.yml)."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    pairs = loader.construct_sequence(node, deep=True)  # type: ignore[arg-type]
    return {str(key): value for key, value in (pairs[0] if pairs else [])}


_ZooLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _ordered_dict)


def read_zoo_yaml(path: Path | str) -> dict[str, Any]:
    """One of RL Zoo's run files (``args.yml``, ``config.yml``) as a dict; a file that cannot be
    read, is not YAML or is not a mapping is a :class:`~sparq_gym.errors.ConfigError` naming it."""
    try:
        with open(path) as handle:
            data = yaml.load(handle, Loader=_ZooLoader)
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({getattr(err, 'problem', None) or err})") from err
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected RL Zoo's mapping of settings, got {type(data).__name__}")
    return dict(data or {})


def _zoo_record(path: Path) -> dict[str, Any] | None:
    """Environment id and kwargs from RL Zoo's ``<env id>/args.yml`` + ``config.yml`` beside ``path``."""
    candidates = [path.parent / path.stem, *sorted(p.parent for p in path.parent.glob("*/args.yml"))]
    for folder in candidates:
        if (folder / "args.yml").exists():
            args = read_zoo_yaml(folder / "args.yml")
            config = read_zoo_yaml(folder / "config.yml") if (folder / "config.yml").exists() else {}
            kwargs = dict(config.get("env_kwargs") or {})
            kwargs.update(args.get("env_kwargs") or {})  # the command line overrode the file
            record = {name: kwargs[name] for name in (*RECORDED_SETTINGS, "trace_dir") if name in kwargs}
            return {"env_id": args.get("env"), **record, "obs_type": kwargs.get("obs_type")}
    return None


def zip_env_record(spec: str | Path) -> dict[str, Any] | None:
    """The environment the zip was trained on, as ``sparq evaluate`` fills its flags from.

    ``policy.json`` beside it (``sparq train``'s own record) or RL Zoo's
    ``args.yml`` / ``config.yml``; ``None`` when neither is there. Keys: ``env_id``,
    the recorded settings (``alpha``, ``n_bins``, ``cost``, ``network``), ``trace_dir``
    and ``obs_type`` where recorded.
    """
    path = Path(spec)
    if (path.parent / POLICY_FILE).exists():
        saved = read_json(path.parent / POLICY_FILE)
        return {**dict(saved.get("env", {})), "obs_type": saved.get("obs_type")}
    return _zoo_record(path)


def _algorithm_class(name: str) -> Any:
    package, _, cls = name.partition(":")
    try:
        return getattr(importlib.import_module(package), cls)
    except ImportError as err:
        raise ImportError(f"the model was saved by {cls}, which needs `pip install {package}`") from err


def check_observation_space(model_space: Any, env_space: Any, path: str | Path) -> None:
    """Raise ``ValueError`` when the environment's observation space is not the model's."""
    if model_space != env_space:
        raise ValueError(
            f"{path}: the model reads observations from {model_space}, the environment gives {env_space}; "
            "evaluate it on the environment (--env) and bins (--n-bins) it was trained with"
        )


VECNORMALIZE_FILE = "vecnormalize.pkl"
"""The file RL Zoo (and ``VecNormalize.save``) writes the observation statistics to."""


def vecnormalize_file(path: Path) -> Path | None:
    """The ``vecnormalize.pkl`` that belongs to the zip ``path``: RL Zoo's ``<run>/<env id>/``
    folder beside it, or the zip's own folder; ``None`` when there is none."""
    for candidate in (path.parent / path.stem / VECNORMALIZE_FILE, path.parent / VECNORMALIZE_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_vecnormalize(path: Path) -> Any:
    """The ``VecNormalize`` saved at ``path`` (its statistics; no environment attached)."""
    import pickle

    from stable_baselines3.common.vec_env import VecNormalize

    try:
        with open(path, "rb") as handle:
            normalizer = pickle.load(handle)
    except Exception as err:
        raise ValueError(f"{path}: not a readable VecNormalize file ({type(err).__name__}: {err})") from err
    if not isinstance(normalizer, VecNormalize):
        raise ValueError(f"{path}: holds a {type(normalizer).__name__}, expected SB3's VecNormalize")
    normalizer.training = False
    return normalizer


def load_zip_policy(spec: str | Path, config: Any, vecnormalize: str | Path | None = None) -> Any:
    """Load an SB3 / RL Zoo zip as an :class:`agents.learners.sb3.SB3Policy` for ``config``.

    The environment's observation space (of the model's observation type) must equal the
    model's. The ``VecNormalize`` statistics given, or found beside the zip
    (:func:`vecnormalize_file`), normalize the observations as in training.
    """
    from agents.learners.sb3 import SB3Policy

    path = Path(spec)
    algorithm = zip_algorithm(path)
    try:
        model = _algorithm_class(algorithm).load(path, device="cpu")
    except ImportError:
        raise
    except Exception as err:
        raise PolicyError(f"{path}: not a loadable {algorithm} model ({type(err).__name__}: {err})") from err
    obs_type = observation_type_of(model.observation_space)
    env = config.make_env("test", obs_type)
    env_space = env.observation_space
    env.close()
    check_observation_space(model.observation_space, env_space, path)
    stats = Path(vecnormalize) if vecnormalize is not None else vecnormalize_file(path)
    normalizer = None if stats is None else load_vecnormalize(stats)
    name = f"{algorithm.partition(':')[2].lower()}:{path.name}" + (" (VecNormalize)" if normalizer else "")
    return SB3Policy(model, obs_type, name, normalizer)


def recorded_env_id(spec: str) -> str | None:
    """The environment id a model zip records (``None``: not a zip, or nothing recorded)."""
    if not is_model_zip(spec):
        return None
    record: Mapping[str, Any] = zip_env_record(spec) or {}
    env_id = record.get("env_id")
    return None if env_id is None else str(env_id)
