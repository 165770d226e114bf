"""The early-exit decision with a vector reward, in MO-Gymnasium's form (``mo-SPARQExit-*-v0``)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import numpy as np
from gymnasium import spaces

from sparq_gym.envs.exit_env import SPARQExitEnv

__all__ = ["MOSPARQExitEnv"]


class MOSPARQExitEnv(SPARQExitEnv):
    """:class:`~sparq_gym.envs.exit_env.SPARQExitEnv` with its two objectives kept apart.

    ## Description
    The same MDP as ``SPARQExit-*-v0`` (spaces, dynamics, episode end, info), for
    multi-objective RL: the accuracy-savings trade-off that v0 folds into one
    scalar with ``alpha`` is returned as a vector, following MO-Gymnasium
    (``reward_space``, ``step`` returning a ``numpy`` array).

    ## Rewards
    ``[accuracy, savings]`` at the end of an episode: ``[+1, s_e]`` when the prediction
    settled for is right, ``[-1, 0]`` when it is wrong; ``[0, 0]`` for a CONTINUE that
    does not end the episode. With weights ``(1, alpha)`` the dot product is v0's
    reward, ``+1 + alpha * s_e`` / ``-1``: ``mo_gymnasium.wrappers.LinearReward(env,
    weight=np.array([1, alpha]))`` gives exactly ``SPARQExit-*-v0`` (tested). The
    ``alpha`` argument therefore changes nothing here but ``info`` and the scalar
    return of helper code; the vector does not depend on it.

    ## Reward Space
    ``Box([-1, min(0, min s)], [1, max(0, max s)], (2,), float64)`` over the split's savings
    (a path through every head can cost more than the plain network, so ``s`` may be < 0).

    ## Arguments
    Those of :class:`~sparq_gym.envs.exit_env.SPARQExitEnv`. MO-Gymnasium is needed only
    for its wrappers and algorithms (``pip install sparq_gym[mo]``), not by this class.

    ## Example
    >>> from sparq_gym.traces import make_synthetic_traces
    >>> env = MOSPARQExitEnv(traces=make_synthetic_traces(100, seed=0))
    >>> _ = env.reset(seed=0, options={"sample_index": 3})
    >>> obs, reward, terminated, truncated, info = env.step(1)
    >>> reward.round(6).tolist(), terminated
    ([1.0, 0.7], True)

    ## Version History
    * v0: Initial version: ``[+1 / -1, savings if right else 0]``, the two terms of v0's reward.
    * v0, unchanged meaning: ``network`` also takes ``"multilevel"`` and ``"spquant"``.
    * v0, unchanged meaning: the last step's info is built when first read (as ``SPARQExit``'s).
    * v0, same rules: the AlexNet ``network="spquant"`` traces are a new fine-tuning (as
      ``SPARQExit``'s).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the environment; the arguments are :class:`SPARQExitEnv`'s."""
        super().__init__(*args, **kwargs)
        savings = self.tables.savings
        self.reward_space = spaces.Box(
            low=np.array([-1.0, min(0.0, float(savings.min()))]),
            high=np.array([1.0, max(0.0, float(savings.max()))]),
            shape=(2,),
            dtype=np.float64,
        )
        self.reward_dim = 2

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """v0's step, with the vector reward ``[+1 / -1, savings if right else 0]``."""
        obs, _, terminated, truncated, info = super().step(action)
        vector = np.zeros(2, dtype=np.float64)
        if terminated:
            vector[:] = (1.0, info["savings"]) if info["correct"] else (-1.0, 0.0)
        return obs, vector, terminated, truncated, info  # type: ignore[return-value]
