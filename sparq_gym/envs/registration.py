"""Every SPARQ environment id, generated from one table.

Ids differ only by the backbone whose shipped traces they replay; everything
else is a keyword argument of :class:`~sparq_gym.envs.exit_env.SPARQExitEnv`
(``gym.make("SPARQExit-AlexNet-v0", split="test", cost="synaptic_ops")``).
``SPARQExit-v0`` takes any trace directory: ``gym.make("SPARQExit-v0",
trace_dir="my/traces")``.

The environments check their own call order (``ResetNeeded``) and actions
(``InvalidActionError``), so they are registered without Gymnasium's
``OrderEnforcing`` and ``PassiveEnvChecker`` wrappers: a step stays a few
microseconds. Pass ``disable_env_checker=False`` to ``gym.make`` to get the
checker back.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

__all__ = ["ENV_TABLE", "GENERIC_ENV_ID", "EnvEntry", "register_envs", "sparq_env_ids"]

ENTRY_POINT = "sparq_gym.envs.exit_env:SPARQExitEnv"
VECTOR_ENTRY_POINT = "sparq_gym.envs.vector_env:SPARQExitVectorEnv"
GENERIC_ENV_ID = "SPARQExit-v0"


@dataclass(frozen=True)
class EnvEntry:
    """One registered id and the shipped backbone it replays."""

    env_id: str
    backbone: str
    dataset: str


ENV_TABLE: tuple[EnvEntry, ...] = (
    EnvEntry("SPARQExit-MLP-v0", "mlp", "MNIST"),
    EnvEntry("SPARQExit-LeNet-v0", "lenet", "MNIST"),
    EnvEntry("SPARQExit-AlexNet-v0", "alexnet", "CIFAR-10"),
)


def sparq_env_ids() -> list[str]:
    """Ids of the backbone environments, smallest backbone first."""
    return [entry.env_id for entry in ENV_TABLE]


def register_envs() -> None:
    """Register every SPARQ id with Gymnasium (idempotent)."""
    for entry in ENV_TABLE:
        _register(entry.env_id, {"backbone": entry.backbone})
    _register(GENERIC_ENV_ID, {})


def _register(env_id: str, kwargs: dict[str, str]) -> None:
    if env_id in gym.registry:
        return
    gym.register(
        id=env_id,
        entry_point=ENTRY_POINT,
        vector_entry_point=VECTOR_ENTRY_POINT,
        kwargs=kwargs,
        order_enforce=False,
        disable_env_checker=True,
    )
