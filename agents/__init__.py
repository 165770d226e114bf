"""Exit policies for the SPARQ environments: trainers, baselines, evaluation and benchmark.

One readable file per agent, each with a ``@dataclass Args`` and an importable
``train(args)``:

* :mod:`agents.learners.q_learning`: the paper's tabular Q-learner (reference agent),
* :mod:`agents.learners.sb3`: stable-baselines3 DQN and PPO,
* :mod:`agents.references.baselines`: static thresholds, the paper's configurations,
  always-final, always-exit-k, random and the hindsight oracle,
* :mod:`agents.references.exact_optimum`: the best deterministic (exit, bin) -> action map
  on the ``train`` traces,

and the shared parts: :mod:`agents.common` (the environment a run uses:
an id, a trace source and its :class:`~sparq_gym.envs.settings.ExitSettings`),
:mod:`agents.policy` (the policy interface every evaluated object follows),
:mod:`agents.loading` (how a policy is named on the command line and loaded),
:mod:`agents.evaluation` (one deterministic pass over the ``test`` split),
:mod:`agents.benchmark.run` (every policy x every environment x seeds ->
leaderboard and plots; :mod:`agents.benchmark.statistics` and :mod:`agents.benchmark.leaderboard` for
rliable's statistics and the tables), :mod:`agents.integrations.zoo` (SB3 / RL Zoo model zips as
policies), :mod:`agents.integrations.tensorboard` (training logs) and :mod:`agents.commands` (``sparq train``,
``sparq evaluate``, ``sparq benchmark``, ``sparq bench-q-learning``).
"""

__all__: list[str] = []
