"""What the ``sparq`` commands share: turning parsed arguments into a library configuration."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

__all__ = ["config_from_args"]

ConfigT = TypeVar("ConfigT")


def config_from_args(config_class: type[ConfigT], args: argparse.Namespace, **values: Any) -> ConfigT:
    """Build the dataclass ``config_class`` from parsed arguments.

    Every field that has an argument of the same name (``--data-root`` ->
    ``data_root``) takes the argument's value; ``values`` give the other
    fields (renamed flags such as ``backbone=args.name``, or computed ones) and
    win over a same-named argument. Fields with neither keep their defaults.
    """
    given = vars(args)
    names = [f.name for f in dataclasses.fields(config_class) if f.init]  # type: ignore[arg-type]
    kwargs = {name: given[name] for name in names if name in given}
    kwargs.update(values)
    return config_class(**kwargs)
