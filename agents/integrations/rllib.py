"""RLlib on the SPARQ environments: every id registered with Ray, and trained RLlib policies evaluated.

Ray keeps its own registry of environments, apart from Gymnasium's: an RLlib
algorithm configured with ``.environment("SPARQExit-LeNet-v0")`` finds the id
only once :func:`register_rllib_envs` has registered it with
``ray.tune.registry.register_env`` (call it in the driver before building the
algorithm; the creators travel to the env runners with the config). The
algorithm's ``env_config`` holds the environment's keyword arguments, e.g.
``{"obs_type": "box", "alpha": 0.3}``::

    from ray.rllib.algorithms.ppo import PPOConfig
    from agents.integrations.rllib import register_rllib_envs

    register_rllib_envs()
    algo = PPOConfig().environment("SPARQExit-LeNet-v0", env_config={"obs_type": "box"}).build_algo()
    algo.train()
    algo.save("runs/rllib-ppo-lenet")

A saved checkpoint is ranked like any other policy with
``sparq evaluate --env SPARQExit-LeNet-v0 --policy rllib:runs/rllib-ppo-lenet``
(:func:`load_rllib_policy`: the greedy action of the trained module, in the
observation type it was trained on). See ``docs/ray.md``.

Ray and RLlib are optional (``pip install -e ".[ray]"``); this module imports
them only inside its functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.errors import ConfigError, PolicyError

__all__ = [
    "RLLIB_PREFIX",
    "RLlibPolicy",
    "load_rllib_policy",
    "ppo_config",
    "register_rllib_envs",
    "sparq_ids",
]

RLLIB_PREFIX = "rllib:"
"""The prefix of a policy spec naming an RLlib checkpoint directory (``rllib:PATH``)."""

_MODULE_PATH = ("learner_group", "learner", "rl_module")
"""Where an algorithm checkpoint keeps its RL modules (one folder per module id)."""


def sparq_ids() -> list[str]:
    """Every SPARQ id in Gymnasium's registry (the backbone, generic and depth x time ids)."""
    import gymnasium as gym

    import sparq_gym  # noqa: F401  (registers the ids)

    return sorted(env_id for env_id in gym.registry if env_id.startswith("SPARQ"))


def _creator(env_id: str) -> Any:
    """The ``register_env`` creator of ``env_id``: ``gym.make(env_id, **env_config)``."""

    def make(env_config: Any) -> Any:
        import gymnasium as gym

        import sparq_gym  # noqa: F401  (on a worker: registers the ids with Gymnasium)

        return gym.make(env_id, **dict(env_config or {}))

    return make


def register_rllib_envs() -> list[str]:
    """Register every SPARQ id with Ray's registry (``ray.tune.registry.register_env``); return the ids.

    Idempotent. The environment's keyword arguments come from the algorithm's
    ``env_config`` (a mapping passed to ``gym.make``).
    """
    try:
        from ray.tune.registry import register_env
    except ImportError as err:
        raise ConfigError(f"RLlib needs Ray ({err}); install the extra: pip install -e \".[ray]\"") from err
    ids = sparq_ids()
    for env_id in ids:
        register_env(env_id, _creator(env_id))
    return ids


def ppo_config(
    env_id: str = "SPARQExit-LeNet-v0",
    *,
    env_config: dict[str, Any] | None = None,
    seed: int = 0,
    train_batch_size: int = 1000,
    hidden: tuple[int, ...] = (64, 64),
) -> Any:
    """A small RLlib PPO config for one SPARQ id, sized for a laptop (registers the ids first).

    Sampling runs in the driver's env runner (no extra actors), on ``train_batch_size``
    steps per iteration, with a ``hidden`` MLP; ``env_config`` defaults to the box
    observation deep RL wants. Build it with ``.build_algo()``.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    register_rllib_envs()
    return (
        PPOConfig()
        .environment(env_id, env_config=dict(env_config or {"obs_type": "box"}))
        .env_runners(num_env_runners=0)
        .training(
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=max(1, train_batch_size // 4),
            num_epochs=4,
            lr=3e-4,
        )
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(hidden)))
        .debugging(seed=seed)
    )


def _obs_type(space: Any) -> str:
    """The SPARQ observation type of a module's observation space."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return "box"
    if isinstance(space, spaces.MultiDiscrete):
        return "multidiscrete"
    if isinstance(space, spaces.Discrete):
        return "discrete"
    raise PolicyError(f"RLlib module observes {space}; SPARQ policies observe Box, MultiDiscrete or Discrete")


class RLlibPolicy:
    """A trained RLlib module as an exit policy: the greedy action of its action distribution.

    :param module: a torch ``RLModule`` (its ``forward_inference`` gives ``action_dist_inputs``).
    :param name: display name.
    """

    def __init__(self, module: Any, name: str = "rllib") -> None:
        self.module = module
        self.name = name
        self.obs_type = _obs_type(module.observation_space)

    def _as_input(self, observations: NDArray[Any]) -> NDArray[Any]:
        """Observations as the module reads them (one-hot for the discrete index, float32 otherwise)."""
        obs = np.asarray(observations)
        if self.obs_type == "discrete":
            return np.eye(int(self.module.observation_space.n), dtype=np.float32)[obs.reshape(-1)]
        return obs.astype(np.float32).reshape(obs.shape[0], -1)

    def act_batch(self, observations: NDArray[Any]) -> NDArray[np.int64]:
        """The greedy action for every row of ``observations``."""
        import torch

        batch = torch.as_tensor(self._as_input(observations))
        with torch.no_grad():
            logits = self.module.forward_inference({"obs": batch})["action_dist_inputs"]
        return np.asarray(torch.argmax(logits, dim=-1).cpu().numpy(), dtype=np.int64)

    def act(self, observation: Any) -> int:
        """The greedy action for one observation."""
        return int(self.act_batch(np.asarray(observation)[None, ...])[0])


def _module_dir(path: Path, module_id: str) -> Path:
    """The module folder inside an algorithm checkpoint, or ``path`` itself when it is one."""
    candidates = [path / Path(*_MODULE_PATH) / module_id, path / module_id, path]
    for candidate in candidates:
        if (candidate / "module_state.pkl").exists() or (candidate / "module_state").exists():
            return candidate
    raise PolicyError(
        f"{path}: not an RLlib checkpoint (no {'/'.join(_MODULE_PATH)}/{module_id} with a module "
        "state); pass the folder that Algorithm.save() wrote"
    )


def load_rllib_policy(path: str | Path, module_id: str = "default_policy") -> RLlibPolicy:
    """Load the RL module ``module_id`` of the RLlib checkpoint at ``path`` as an exit policy.

    ``path`` is the folder ``Algorithm.save()`` wrote (or a module folder inside
    it). Loading needs Ray installed but starts no Ray.
    """
    try:
        from ray.rllib.core.rl_module.rl_module import RLModule
    except ImportError as err:
        raise ConfigError(f"rllib:{path} needs Ray ({err}); install: pip install -e \".[ray]\"") from err
    directory = Path(path)
    if not directory.is_dir():
        raise PolicyError(f"{directory}: RLlib checkpoint folder not found")
    module = RLModule.from_checkpoint(str(_module_dir(directory, module_id).resolve()))
    return RLlibPolicy(module, name=f"rllib:{directory.name}")
