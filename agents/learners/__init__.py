"""Learning agents: the paper's tabular Q-learner and the SB3 / sb3-contrib algorithms."""
