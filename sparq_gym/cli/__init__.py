"""The ``sparq`` command: argument parsing only; each sub-command calls the library."""

from sparq_gym.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
