"""sparq_gym: the early-exit decision of quantized spiking networks as Gymnasium environments.

Importing the package registers the ``SPARQExit-*`` ids with Gymnasium::

    import gymnasium as gym
    import sparq_gym  # noqa: F401

    env = gym.make("SPARQExit-LeNet-v0")
"""

from sparq_gym.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
