"""SPARQ early-exit environments: core step function, single env, vector env, registration."""

from sparq_gym.envs.core import Action, ExitTables, build_exit_tables, exit_step
from sparq_gym.envs.exit_env import InvalidActionError, SPARQExitEnv

__all__ = [
    "Action",
    "ExitTables",
    "InvalidActionError",
    "SPARQExitEnv",
    "build_exit_tables",
    "exit_step",
]
