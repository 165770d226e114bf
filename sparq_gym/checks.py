"""Argument checks shared by every entry point: one message form, one error hierarchy.

Each check names the argument, shows the value given and says what is expected,
and raises the error type its caller passes (a :class:`~sparq_gym.errors.SparqError`
subclass). Environment settings (:class:`sparq_gym.envs.settings.ExitSettings`),
reset arguments, agents' ``Args``, command-line flags and policy outputs all use
these, so "``--gamma 5``" and "``gamma=5``" get the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparq_gym.errors import ConfigError, SparqError

__all__ = [
    "check_choice", "check_file", "check_integer", "check_number", "check_writable_folder", "is_integer",
    "is_number",
]


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy), booleans excluded."""
    plain = isinstance(value, (int, float, np.integer, np.floating))
    return plain and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or numpy), booleans excluded."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def check_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    error: type[SparqError] = ConfigError,
) -> float:
    """``value`` as a float when it is a finite number within the bounds; else raise ``error``."""
    expected = f"a finite number{_interval(low, high, low_open, high_open)}"
    if not is_number(value) or not math.isfinite(float(value)):
        raise error(f"{name} must be {expected}, got {value!r}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise error(f"{name} must be {expected}, got {value!r}")
    return number


def check_integer(
    name: str,
    value: Any,
    low: int | None = None,
    high: int | None = None,
    *,
    error: type[SparqError] = ConfigError,
) -> int:
    """``value`` as an int when it is an integer in ``[low, high]``; else raise ``error``."""
    if not is_integer(value) or (low is not None and value < low) or (high is not None and value > high):
        raise error(f"{name} must be an integer{_interval(low, high, False, False)}, got {value!r}")
    return int(value)


def check_choice(
    name: str, value: Any, choices: Sequence[Any], *, error: type[SparqError] = ConfigError
) -> Any:
    """``value`` when it is one of ``choices``; else raise ``error`` listing them."""
    if not isinstance(value, (str, int, type(None))) or value not in choices:
        raise error(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_file(name: str, path: Any, *, error: type[SparqError] = ConfigError) -> str:
    """``path`` when it names an existing regular file; else raise ``error`` saying what it is."""
    import os

    if not isinstance(path, str) or not path:
        raise error(f"{name} must be a file path, got {path!r}")
    if not os.path.isfile(path):
        what = "does not exist"
        if os.path.exists(path):
            what = "is a folder" if os.path.isdir(path) else "is not a regular file"
        raise error(f"{name} {path}: {what}; expected a file")
    return path


def check_writable_folder(name: str, path: Any, *, error: type[SparqError] = ConfigError) -> str:
    """``path`` when it is a folder this process may write into, or one it may create (its nearest
    existing parent writable); else raise ``error`` naming ``name`` and what ``path`` is."""
    import os

    if not isinstance(path, str) or not path.strip():
        raise error(f"{name} must name a folder, got {path!r}")
    if os.path.exists(path) and not os.path.isdir(path):
        raise error(f"{name} {path}: is a file; expected a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(os.path.abspath(existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise error(f"{name} {path}: {existing} is not writable")
    return path
