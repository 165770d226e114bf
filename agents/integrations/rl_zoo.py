"""RL Zoo's own ``train`` and ``enjoy`` on the SPARQ ids, MaskablePPO included (``ppo_mask``).

rl_zoo3 2.9.2 has no MaskablePPO in its ``ALGOS``; the depth x time ids need it (their
CONTINUE at the final head and WAIT at t = T are masked, and MaskablePPO reads the
environment's ``action_masks()``). This entry point adds it and runs RL Zoo's scripts::

    python -m agents.integrations.rl_zoo --algo ppo_mask --env SPARQDepthTime-LeNet-v0 \\
        --gym-packages sparq_gym -conf agents/hyperparams/ppo_mask.yml --eval-freq 5000
    python -m agents.integrations.rl_zoo enjoy --algo ppo_mask --env SPARQDepthTime-LeNet-v0 -f logs

Training is RL Zoo's ``ExperimentManager`` with two changes (:class:`SparqExperimentManager`):

* the evaluation environment of ``--eval-freq`` gets the YAML's ``env_kwargs`` (RL Zoo
  gives it only the command line's, so a ``box`` agent met a ``multidiscrete`` env);
* for ``ppo_mask`` the evaluation callback is sb3-contrib's ``MaskableEvalCallback``, which
  acts within the masks (RL Zoo's ``EvalCallback`` would evaluate it unmasked).

``enjoy`` for ``ppo_mask`` plays the saved agent with the masks (:func:`enjoy_masked`);
every other ``--algo`` is RL Zoo's own ``enjoy``. To rank a saved zip on every test sample,
``sparq evaluate --policy logs/ppo_mask/<id>_1/<id>.zip`` reads the same files (the
environment from ``args.yml`` / ``config.yml``, ``vecnormalize.pkl`` when present).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

__all__ = ["SparqExperimentManager", "enjoy_masked", "main", "register_maskable_ppo"]

MASKED_ALGOS: tuple[str, ...] = ("ppo_mask",)


def register_maskable_ppo() -> None:
    """Add ``ppo_mask`` (sb3-contrib's MaskablePPO) to RL Zoo's algorithm table."""
    from rl_zoo3.utils import ALGOS
    from sb3_contrib import MaskablePPO

    ALGOS.setdefault("ppo_mask", MaskablePPO)


def _manager_class() -> Any:
    """:class:`SparqExperimentManager`, built on RL Zoo's (imported only when training)."""
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common.callbacks import EvalCallback

    class SparqExperimentManager(ExperimentManager):  # type: ignore[misc]
        """RL Zoo's experiment manager; its evaluation env gets the YAML's ``env_kwargs`` and
        ``ppo_mask`` is evaluated with sb3-contrib's ``MaskableEvalCallback``."""

        def _preprocess_hyperparams(self, hyperparams: dict[str, Any]) -> Any:
            result = super()._preprocess_hyperparams(hyperparams)
            if self._eval_env_kwargs_args is None:  # none given for evaluation: the training env's
                self.eval_env_kwargs = dict(self.env_kwargs)
            return result

        def create_callbacks(self) -> None:
            super().create_callbacks()
            if self.algo not in MASKED_ALGOS:
                return
            from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

            for i, callback in enumerate(self.callbacks):
                if isinstance(callback, EvalCallback) and not isinstance(callback, MaskableEvalCallback):
                    self.callbacks[i] = MaskableEvalCallback(
                        callback.eval_env,
                        callback_on_new_best=callback.callback_on_new_best,
                        best_model_save_path=callback.best_model_save_path,
                        n_eval_episodes=callback.n_eval_episodes,
                        log_path=self.save_path,
                        eval_freq=callback.eval_freq,
                        deterministic=callback.deterministic,
                    )

    return SparqExperimentManager


SparqExperimentManager: Any = None
"""Set on first use by :func:`train` (RL Zoo is an optional extra, ``[zoo]``)."""


def train(argv: list[str]) -> None:
    """RL Zoo's ``train`` on ``argv`` with :class:`SparqExperimentManager`."""
    global SparqExperimentManager
    register_maskable_ppo()
    import rl_zoo3.train as zoo_train

    SparqExperimentManager = _manager_class()
    # rl_zoo3.train builds its manager by this module-level name
    zoo_train.ExperimentManager = SparqExperimentManager  # type: ignore[misc]
    sys.argv = [sys.argv[0], *argv]
    zoo_train.train()


def enjoy_masked(argv: list[str]) -> list[float]:
    """Play a saved ``ppo_mask`` agent with the action masks; print and return the episode returns.

    The arguments are RL Zoo's ``enjoy``'s (``--env``, ``-f``, ``--exp-id``, ``-n``,
    ``--seed``, ``--load-best``); the environment is made as RL Zoo makes it
    (``create_test_env`` with the run's ``env_kwargs`` and ``vecnormalize.pkl``).
    """
    import os

    from rl_zoo3.utils import StoreDict, create_test_env, get_model_path, get_saved_hyperparams
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks

    import sparq_gym  # noqa: F401  (registers the ids)

    parser = argparse.ArgumentParser(prog="python -m agents.integrations.rl_zoo enjoy")
    parser.add_argument("--algo", default="ppo_mask", choices=list(MASKED_ALGOS))
    parser.add_argument("--env", required=True)
    parser.add_argument("-f", "--folder", default="logs")
    parser.add_argument("--exp-id", type=int, default=0)
    parser.add_argument("-n", "--n-timesteps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load-best", action="store_true")
    parser.add_argument("--env-kwargs", nargs="+", action=StoreDict, default=None)
    args = parser.parse_args(argv)
    from rl_zoo3.utils import EnvironmentName

    env_name = EnvironmentName(args.env)
    _, model_path, log_path = get_model_path(args.exp_id, args.folder, args.algo, env_name, args.load_best)
    stats_path = os.path.join(log_path, env_name)
    hyperparams, maybe_stats_path = get_saved_hyperparams(stats_path, test_mode=True)
    env_kwargs = dict(hyperparams.pop("env_kwargs", None) or {})
    args_file = os.path.join(stats_path, "args.yml")
    if os.path.isfile(args_file):
        from agents.integrations.zoo import read_zoo_yaml

        env_kwargs.update(read_zoo_yaml(args_file).get("env_kwargs") or {})
    env_kwargs.update(args.env_kwargs or {})
    env = create_test_env(
        env_name.gym_id,
        n_envs=1,
        stats_path=maybe_stats_path,
        seed=args.seed,
        log_dir=None,
        should_render=False,
        hyperparams=hyperparams,
        env_kwargs=env_kwargs,
    )
    model = MaskablePPO.load(model_path, device="cpu")
    obs = env.reset()
    returns, total = [], 0.0
    for _ in range(args.n_timesteps):
        action, _ = model.predict(cast(Any, obs), deterministic=True, action_masks=get_action_masks(env))
        obs, reward, done, _ = env.step(action)
        total += float(reward[0])
        if done[0]:
            returns.append(total)
            total = 0.0
    env.close()
    mean = sum(returns) / len(returns) if returns else float("nan")
    print(f"{len(returns)} episodes with the action masks, mean return {mean:.4f}")
    return returns


def main(argv: list[str] | None = None) -> None:
    """``enjoy ...``: play an agent (:func:`enjoy_masked` for ``ppo_mask``, RL Zoo's otherwise);
    anything else: RL Zoo's ``train`` with ``ppo_mask`` registered."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["enjoy"]:
        train(argv)
        return
    rest = argv[1:]
    if "ppo_mask" in rest or not any(a.startswith("--algo") for a in rest):
        enjoy_masked(rest)
        return
    register_maskable_ppo()
    from rl_zoo3.enjoy import enjoy

    sys.argv = [sys.argv[0], *rest]
    enjoy()


if __name__ == "__main__":
    main()
