"""The ``sparq`` command.

Each library stage adds its sub-commands through a ``register(subparsers)``
function in its module of this package (:data:`COMMAND_MODULES`). Packages
built on the library (the ``agents`` package: ``sparq train``, ``evaluate``,
``benchmark``) add theirs through the entry-point group
:data:`ENTRY_POINT_GROUP`, so that :mod:`sparq_gym` never imports them.
Handlers import heavy dependencies (torch, SB3) only when they run, so
``sparq envs`` stays fast. A command module that fails to import is an error,
never skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType

COMMAND_MODULES: tuple[str, ...] = (
    "sparq_gym.cli.envs",
    "sparq_gym.cli.backbones",
    "sparq_gym.cli.energy",
    "sparq_gym.cli.reports",
)
"""The library's own command modules, in the order their commands are listed."""

ENTRY_POINT_GROUP = "sparq_gym.commands"
"""Entry-point group through which installed packages add sub-commands (a module with ``register``)."""


def command_modules() -> list[ModuleType]:
    """The library's command modules, then every module registered under :data:`ENTRY_POINT_GROUP`."""
    modules = [importlib.import_module(name) for name in COMMAND_MODULES]
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        modules.append(entry.load())
    return modules


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="sparq",
        description="SPARQ early-exit environments, backbones, policies and benchmarks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
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
