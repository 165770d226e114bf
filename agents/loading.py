"""How policies are named and loaded: saved directories, baselines, modules and files.

On the command line a policy is named by a *spec* (:func:`load_policy`):
a saved policy directory (``policy.json`` inside), an SB3 / RL Zoo model
zip (:mod:`agents.integrations.zoo`), a baseline name
(:data:`agents.references.registry.REFERENCE_NAMES`, e.g. ``always-final``,
``cfg-0.6-0.7``, ``exact-optimum``), ``package.module:Name`` or
``path/to/file.py[:Name]``, or ``rllib:PATH`` (an RLlib checkpoint folder,
:mod:`agents.integrations.rllib`). ``Name`` may be a policy object, a class
(instantiated without arguments) or a plain function.

``module:Name`` is imported through the normal import system (the module must
be importable, e.g. installed or on ``PYTHONPATH``); a file is imported from its
path, and may import the modules that sit beside it. Loading never changes
``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from agents.common import EnvConfig
from agents.integrations.rllib import RLLIB_PREFIX, load_rllib_policy
from agents.integrations.zoo import is_model_zip, load_zip_policy, zip_env_record
from agents.policy import (
    POLICY_FILE,
    Policy,
    TablePolicy,
    as_policy,
    read_policy_record,
    read_table_archive,
    verified_file,
)
from agents.references.registry import REFERENCE_NAMES, is_reference, make_reference
from sparq_gym.errors import PolicyError, PolicyNotFoundError

__all__ = ["load_policy", "load_saved_policy", "saved_env_record"]


def load_saved_policy(directory: str | Path) -> Policy:
    """Load the policy saved in ``directory`` (``policy.json`` + ``policy.npz`` or ``model.zip``).

    Table policies (``format: table``) come back as :class:`agents.policy.TablePolicy`
    (with their Q-table when one was saved), SB3 runs (``format: sb3``) through
    :func:`agents.learners.sb3.load_sb3_policy`. Every file is checked against the sha256
    that ``policy.json`` records.
    """
    directory = Path(directory)
    record = read_policy_record(directory)
    if record["format"] == "table":
        actions, q_values = read_table_archive(verified_file(directory, "policy.npz", record, "the table"))
        return TablePolicy(actions, name=record.get("name", directory.name), q_values=q_values)
    from agents.learners.sb3 import load_sb3_policy

    return load_sb3_policy(directory, record)


def saved_env_record(specs: Sequence[str]) -> dict[str, Any] | None:
    """The environment record (``env`` of ``policy.json``) of the first saved policy among ``specs``.

    ``None`` when no spec is a saved policy directory or a model zip that records its
    environment (:func:`agents.integrations.zoo.zip_env_record`). ``sparq evaluate`` fills
    every environment flag left out from it.
    """
    for spec in specs:
        if is_model_zip(spec) and (record := zip_env_record(spec)) is not None:
            return record
        if (Path(spec) / POLICY_FILE).exists():
            return dict(read_policy_record(spec).get("env", {}))
    return None


class _FolderFinder(importlib.abc.MetaPathFinder):
    """Find top-level modules in one folder, after every other finder has failed.

    Installed while a policy file runs, so that it can import the modules beside
    it without putting its folder on ``sys.path`` (and without shadowing any
    module found elsewhere).
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The spec of ``fullname`` in the folder, for top-level names only."""
        if path is not None:  # a submodule: its package's own path finds it
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [self.folder])


def _load_from_file(path: Path, name: str | None) -> Policy:
    if not path.exists():
        raise FileNotFoundError(f"{path}: policy file not found")
    module_name = f"_sparq_user_policy_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot import as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    finder = _FolderFinder(str(path.resolve().parent))  # so the file can import modules beside it
    sys.meta_path.append(finder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(module_name, None)  # leave nothing half-imported behind
        raise PolicyError(f"{path}:{err.lineno}: SyntaxError: {err.msg}") from err
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        sys.meta_path.remove(finder)
    return _attribute(module, name, str(path))


def _attribute(module: ModuleType, name: str | None, where: str) -> Policy:
    if name is None:
        for candidate in ("Policy", "policy"):
            if hasattr(module, candidate):
                name = candidate
                break
        else:
            raise ValueError(f"{where}: name the policy as {where}:Name (no Policy or policy found)")
    if not hasattr(module, name):
        raise ValueError(f"{where}: has no attribute {name!r}")
    return as_policy(getattr(module, name), name=f"{where}:{name}")


def load_policy(spec: str, config: EnvConfig, *, seed: int = 0, vecnormalize: str | None = None) -> Policy:
    """Resolve a policy spec to a policy object for the environment ``config``.

    :param spec: a saved policy directory, a baseline name, ``module:Name`` or
        ``file.py[:Name]`` (see the module docstring).
    :param config: the :class:`agents.common.EnvConfig` the policy will run on
        (baselines that are tuned, such as ``static-threshold`` and
        ``exact-optimum``, are tuned on its ``train`` split).
    :param seed: seed of stochastic baselines (``random``).
    :param vecnormalize: a model zip's ``VecNormalize`` statistics (default: the
        ``vecnormalize.pkl`` found beside it, :func:`agents.integrations.zoo.vecnormalize_file`).
    """
    if spec.startswith(RLLIB_PREFIX):  # an RLlib checkpoint folder (agents.integrations.rllib)
        return load_rllib_policy(spec.removeprefix(RLLIB_PREFIX))
    path = Path(spec)
    if path.is_dir():
        if not (path / POLICY_FILE).exists():
            raise FileNotFoundError(f"{path}: not a saved policy directory (no {POLICY_FILE})")
        return load_saved_policy(path)
    if is_model_zip(spec):  # any SB3 / RL Zoo model zip
        return load_zip_policy(path, config, vecnormalize)
    if is_reference(spec):
        return make_reference(spec, config, seed=seed)
    if spec.endswith((".zip", ".py")) and not path.exists():
        what = "a model .zip" if spec.endswith(".zip") else "a policy file"
        raise PolicyNotFoundError(f"{spec}: no such file ({what} was named)")
    file_part, _, name = spec.partition(":") if not spec.endswith(".py") else (spec, "", "")
    if file_part.endswith(".py"):
        return _load_from_file(Path(file_part), name or None)
    if name:
        try:
            module = importlib.import_module(file_part)
        except ModuleNotFoundError as err:
            raise ValueError(
                f"policy {spec!r}: cannot import module {file_part!r} ({err}); "
                f"for a file in this folder write {file_part.replace('.', '/')}.py:{name}"
            ) from err
        return _attribute(module, name, file_part)
    raise ValueError(
        f"unknown policy {spec!r}: expected a saved policy directory, a model .zip, a baseline name "
        f"of {config.env_id} ({', '.join(REFERENCE_NAMES[config.family.name])}"
        f"{', cfg-T1-T2, always-exit-K' if config.family.name == 'exit' else ''}), module:Name, "
        "file.py[:Name] or rllib:PATH"
    )
