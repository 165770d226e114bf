"""The benchmark: every policy x environment x seed -> leaderboard, fronts, plots, statistics."""
