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

from sparq_gym.errors import SparqError

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


EXPECTED_ERRORS: tuple[type[BaseException], ...] = (SparqError, OSError, ValueError, KeyError)
"""What a command may raise on bad input: one line on stderr and exit status 2, never a traceback.
(:class:`~sparq_gym.errors.SparqError` is the project's own; ``OSError`` names its path.)"""

INTERRUPTED = 130
"""Exit status after Ctrl-C (SIGINT), as shells report it."""


def one_line(err: BaseException) -> str:
    """``err`` as one line: its message (newlines folded), with the path of an ``OSError``."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    elif isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sparq`` console script; returns the exit status.

    Every expected error (:data:`EXPECTED_ERRORS`) becomes one line on stderr and
    status 2; Ctrl-C ends with one line and status :data:`INTERRUPTED`.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            result = args.handler(args)
        except EXPECTED_ERRORS as err:
            print(f"sparq {args.command}: error: {one_line(err)}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:
        print("sparq: interrupted (the previous output, if any, is left as it was)", file=sys.stderr)
        return INTERRUPTED
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
