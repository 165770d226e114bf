"""Every SPARQ environment id, generated from one table.

Ids differ only by the backbone whose shipped traces they replay; everything
else is a keyword argument of :class:`~sparq_gym.envs.exit_env.SPARQExitEnv`
(``gym.make("SPARQExit-AlexNet-v0", split="test", cost="synaptic_ops")``).
``SPARQExit-v0`` takes any trace directory: ``gym.make("SPARQExit-v0",
trace_dir="my/traces")``.
The depth x time family (:class:`~sparq_gym.envs.depth_time_env.SPARQDepthTimeEnv`,
spec §9) has its own table, ``SPARQDepthTime-<Backbone>-v0`` and ``SPARQDepthTime-v0``.

The environments check their own call order (``ResetNeeded``) and actions
(``InvalidActionError``), so they are registered without Gymnasium's
``OrderEnforcing`` and ``PassiveEnvChecker`` wrappers: a step stays a few
microseconds. Pass ``disable_env_checker=False`` to ``gym.make`` to get the
checker back.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

__all__ = [
    "DEPTH_TIME_GENERIC_ENV_ID",
    "DEPTH_TIME_TABLE",
    "ENV_TABLE",
    "GENERIC_ENV_ID",
    "MO_PREFIX",
    "EnvEntry",
    "depth_time_env_ids",
    "mo_env_ids",
    "register_envs",
    "sparq_env_ids",
]

ENTRY_POINT = "sparq_gym.envs.exit_env:SPARQExitEnv"
VECTOR_ENTRY_POINT = "sparq_gym.envs.vector_env:SPARQExitVectorEnv"
GENERIC_ENV_ID = "SPARQExit-v0"
MO_ENTRY_POINT = "sparq_gym.envs.mo_exit_env:MOSPARQExitEnv"
MO_PREFIX = "mo-"
"""``mo-SPARQExit-<backbone>-v0``: the vector-reward form (MO-Gymnasium's naming)."""
DEPTH_TIME_ENTRY_POINT = "sparq_gym.envs.depth_time_env:SPARQDepthTimeEnv"
DEPTH_TIME_VECTOR_ENTRY_POINT = "sparq_gym.envs.depth_time_vector_env:SPARQDepthTimeVectorEnv"
DEPTH_TIME_GENERIC_ENV_ID = "SPARQDepthTime-v0"


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

DEPTH_TIME_TABLE: tuple[EnvEntry, ...] = (
    EnvEntry("SPARQDepthTime-MLP-v0", "mlp", "MNIST"),
    EnvEntry("SPARQDepthTime-LeNet-v0", "lenet", "MNIST"),
    EnvEntry("SPARQDepthTime-AlexNet-v0", "alexnet", "CIFAR-10"),
)
"""The depth x time family (spec §9): shipped traces in ``pretrained/<backbone>/qdsnn_time``."""


def sparq_env_ids() -> list[str]:
    """Ids of the backbone environments, smallest backbone first."""
    return [entry.env_id for entry in ENV_TABLE]


def register_envs() -> None:
    """Register every SPARQ id with Gymnasium (idempotent)."""
    for entry in ENV_TABLE:
        _register(entry.env_id, {"backbone": entry.backbone})
    _register(GENERIC_ENV_ID, {})
    for entry in DEPTH_TIME_TABLE:
        _register(
            entry.env_id, {"backbone": entry.backbone}, DEPTH_TIME_ENTRY_POINT, DEPTH_TIME_VECTOR_ENTRY_POINT
        )
    _register(DEPTH_TIME_GENERIC_ENV_ID, {}, DEPTH_TIME_ENTRY_POINT, DEPTH_TIME_VECTOR_ENTRY_POINT)
    for env_id, entry in zip(mo_env_ids(), ENV_TABLE):  # no native vector env: gym.make_vec wraps
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=MO_ENTRY_POINT, kwargs={"backbone": entry.backbone},
                         order_enforce=False, disable_env_checker=True)


def mo_env_ids() -> list[str]:
    """Ids of the multi-objective (vector-reward) backbone environments."""
    return [MO_PREFIX + entry.env_id for entry in ENV_TABLE]


def depth_time_env_ids() -> list[str]:
    """Ids of the depth x time backbone environments, smallest backbone first."""
    return [entry.env_id for entry in DEPTH_TIME_TABLE]


def _register(env_id: str, kwargs: dict[str, str], entry_point: str = ENTRY_POINT,
              vector_entry_point: str = VECTOR_ENTRY_POINT) -> None:
    if env_id in gym.registry:
        return
    gym.register(
        id=env_id,
        entry_point=entry_point,
        vector_entry_point=vector_entry_point,
        kwargs=kwargs,
        order_enforce=False,
        disable_env_checker=True,
    )
