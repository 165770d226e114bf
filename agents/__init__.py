"""Exit policies for every SPARQ environment family: references, learners, evaluation, benchmark.

Organised by role, never by family (a family plugs in through its
:class:`~sparq_gym.envs.decisions.DecisionTables`, :mod:`sparq_gym.envs.families`):

* :mod:`agents.policy`: the protocol every policy follows (observation [, masks] -> action),
  table policies, and the one walk over a split (:func:`agents.policy.decide_places`);
* :mod:`agents.evaluation`: one vectorized pass over every sample of a split, any family;
* :mod:`agents.common`: the environment a run uses (:class:`agents.common.EnvConfig`: any
  registered id, a trace source and its :class:`~sparq_gym.envs.settings.ExitSettings`);
* :mod:`agents.loading`: how a policy is named on the command line and loaded;
* :mod:`agents.references`: every reference policy by name (``registry``): thresholds,
  fixed exits, random, the hindsight oracle, the exact tabular optima;
* :mod:`agents.learners`: the paper's tabular Q-learner, SB3's DQN and PPO, sb3-contrib's
  MaskablePPO (one file per kind, each with ``Args`` and ``train(args)``);
* :mod:`agents.benchmark`: every policy x environment x seed -> leaderboard, fronts, plots,
  rliable statistics;
* :mod:`agents.integrations`: SB3 / RL Zoo zips, RL Zoo's scripts, TensorBoard, Ray, RLlib;
* :mod:`agents.commands`: ``sparq train``, ``sparq evaluate``, ``sparq benchmark``,
  ``sparq bench-q-learning``.
"""

__all__: list[str] = []
