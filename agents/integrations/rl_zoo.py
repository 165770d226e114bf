"""RL Zoo's own ``train`` with sb3-contrib's MaskablePPO registered as ``ppo_mask``.

rl_zoo3 2.9.2 has no MaskablePPO in its ``ALGOS``; the depth x time ids need it
(their CONTINUE at the final head and WAIT at t = T are masked, and MaskablePPO
reads the environment's ``action_masks()``). This entry point adds it and hands
the command line, unchanged, to RL Zoo::

    python -m agents.integrations.rl_zoo --algo ppo_mask --env SPARQDepthTime-LeNet-v0 --gym-packages sparq_gym \\
        -conf agents/hyperparams/ppo_mask.yml

Every other ``--algo`` behaves as ``python -m rl_zoo3.train``.
"""

from __future__ import annotations

__all__ = ["main", "register_maskable_ppo"]


def register_maskable_ppo() -> None:
    """Add ``ppo_mask`` (sb3-contrib's MaskablePPO) to RL Zoo's algorithm table."""
    from rl_zoo3.utils import ALGOS
    from sb3_contrib import MaskablePPO

    ALGOS.setdefault("ppo_mask", MaskablePPO)


def main() -> None:
    """Register ``ppo_mask``, then run RL Zoo's training script on ``sys.argv``."""
    register_maskable_ppo()
    from rl_zoo3.train import train

    train()


if __name__ == "__main__":
    main()
