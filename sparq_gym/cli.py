"""The ``sparq`` command.

Each stage of the pipeline contributes its own sub-commands through a
``register(subparsers)`` function in its module (listed in
:data:`COMMAND_MODULES`); handlers import heavy dependencies (torch, SB3) only
when they run, so ``sparq envs`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "sparq_gym.envs.commands",
    "sparq_gym.backbones.commands",
    "sparq_gym.energy_commands",
    "sparq_gym.report_commands",
    "agents.commands",
)
"""Modules that add sub-commands; a module that is not present yet is skipped."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="sparq",
        description="SPARQ early-exit environments, backbones, policies and benchmarks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sparq`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"sparq {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
