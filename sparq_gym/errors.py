"""The project's error types: every expected error is a :class:`SparqError`.

Bad input (an environment keyword, a command-line flag, a manifest, a saved
policy, an output location) raises one of these with a message that names
the argument, the value given and what is expected. They derive from
``ValueError`` so that code catching ``ValueError`` keeps working; the
``sparq`` command turns each into one line on stderr and a non-zero exit.
This module imports nothing from the project, so every stage can use it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatasetError",
    "OutputError",
    "PolicyError",
    "PolicyNotFoundError",
    "SettingsError",
    "SparqError",
    "TraceError",
    "TraceNotFoundError",
]


class SparqError(ValueError):
    """Base of every error the project raises on purpose for bad input."""


class SettingsError(SparqError):
    """An environment setting (keyword, reset option, seed) outside what the environment accepts."""


class TraceError(SparqError):
    """A trace file or directory is missing, malformed, or does not match its manifest."""


class TraceNotFoundError(TraceError, FileNotFoundError):
    """A trace directory, manifest or archive that does not exist (also a ``FileNotFoundError``)."""


class DatasetError(SparqError):
    """A dataset is missing, corrupt or unknown."""


class ConfigError(SparqError):
    """A run's configuration (an agent's ``Args``, a command-line flag) outside what it accepts."""


class PolicyError(SparqError):
    """A saved policy is malformed, or a policy returned actions of the wrong type or shape."""


class PolicyNotFoundError(PolicyError, FileNotFoundError):
    """A named policy file or model zip that does not exist (also a ``FileNotFoundError``)."""


class OutputError(SparqError):
    """An output location cannot be written (a file where a folder is needed, read-only, ...)."""
