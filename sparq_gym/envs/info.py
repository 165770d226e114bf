"""The vector environment's final info: built on first use, from one packed table in one look-up.

Most vector-env users never read the info of most steps (a training loop reads
rewards, observations and terminations), yet building it is a third of a step:
thirteen keys over thousands of slots. :class:`LazyInfo` is a real ``dict``
whose entries are computed the first time anything reads it, so the step
pays for the info only when it is used, and a reader sees exactly what an
eager build gives (a test compares it with ``SyncVectorEnv`` key by key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.envs.core import ExitTables

__all__ = ["FLOAT_INFO_KEYS", "INT_INFO_KEYS", "FinalInfoTable", "LazyInfo"]

INT_INFO_KEYS: tuple[str, ...] = ("sample_index", "label", "exit", "prediction", "correct")
FLOAT_INFO_KEYS: tuple[str, ...] = ("confidence", "cost", "savings")


class FinalInfoTable:
    """Final-info values of every (sample, exit) cell, packed one row per cell.

    A row holds the integer keys, the K raw counters and the float keys (stored as their
    int64 bit patterns), so the info of thousands of ended episodes is one gather of
    contiguous rows. One extra row of zeros, at index ``N E`` (the step tables' "no
    end"), is what slots whose episode goes on gather: it gives the zeros that
    ``SyncVectorEnv`` puts where a slot has no info, without a scatter.

    :param tables: the environment's exit tables.
    """

    def __init__(self, tables: ExitTables) -> None:
        """Pack the final-info values of ``tables``."""
        n, n_exits = tables.n_samples, tables.n_early_exits + 1
        cells = np.arange(n * n_exits)
        floats = np.stack(
            [tables.confidence.reshape(-1), tables.cost.reshape(-1), tables.savings.reshape(-1)], 1
        )
        packed = np.zeros((n * n_exits + 1, len(INT_INFO_KEYS) + len(tables.counter_names) + 3), np.int64)
        packed[:-1] = np.concatenate(
            [
                np.stack(
                    [cells // n_exits, tables.labels.repeat(n_exits), cells % n_exits,
                     tables.predictions.reshape(-1), tables.correct.reshape(-1)], 1
                ),
                tables.counts.reshape(n * n_exits, -1),
                np.ascontiguousarray(floats, dtype=np.float64).view(np.int64),
            ],
            axis=1,
        )
        self._packed = packed
        self._counter_names = tables.counter_names

    def info(self, cell: NDArray[np.int64], ended: NDArray[np.bool_]) -> dict[str, Any]:
        """Info of the slots whose episode ended in ``cell`` (``N E`` where ``ended`` is False).

        ``ended`` becomes the read-only ``_key`` mask of every key: pass an array of your own.

        Same keys, dtypes and ``_key`` masks as ``SyncVectorEnv`` builds from the single
        environments' infos; entries outside the mask are 0. Every value is a column of one
        fresh array, so a caller may keep or modify what it receives.
        """
        columns = self._packed.take(cell, axis=0).T
        mask = ended
        mask.flags.writeable = False  # one read-only mask serves every key
        info: dict[str, Any] = {}
        for row, key in enumerate(INT_INFO_KEYS):
            info[key] = columns[row]
            info[f"_{key}"] = mask
        info["correct"] = columns[INT_INFO_KEYS.index("correct")].astype(np.bool_)
        offset = len(INT_INFO_KEYS)
        counters: dict[str, Any] = {}
        for k, name in enumerate(self._counter_names):
            counters[name] = columns[offset + k]
            counters[f"_{name}"] = mask
        offset += len(self._counter_names)
        for row, key in enumerate(FLOAT_INFO_KEYS):
            info[key] = columns[offset + row].view(np.float64)
            info[f"_{key}"] = mask
        info["counters"] = counters
        info["_counters"] = mask
        return info


class LazyInfo(dict[str, Any]):
    """A ``dict`` filled by ``build(*args)`` the first time it is read or written.

    Every ``dict`` method fills it first; ``{**info}``, ``dict(info)``, comparisons,
    ``copy``, ``pickle`` and ``repr`` all go through those methods (a subclass that
    overrides ``__iter__`` and ``keys`` is never read behind its back by CPython's
    merge), and a copy or a pickle is a plain ``dict``. Making one costs about as much as
    a small dict (no ``functools.partial``, no ``dict.__init__`` call): the single
    environment returns one at every episode end.

    :param build: returns the entries; called at most once, with ``args``.
    :param args: the arguments of ``build`` (keep them unchanged until the first read).
    """

    __slots__ = ("_args", "_build")

    def __init__(self, build: Callable[..., dict[str, Any]], *args: Any) -> None:
        """Hold ``build`` and its arguments until the first use."""
        self._build: Callable[..., dict[str, Any]] | None = build
        self._args = args

    def _fill(self) -> None:
        build = self._build
        if build is not None:
            self._build = None
            dict.update(self, build(*self._args))
            self._args = ()

    def __reduce__(self) -> tuple[Any, ...]:
        """Copies and pickles are plain dicts of the built entries."""
        self._fill()
        return (dict, (dict(dict.items(self)),))


def _filling(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def call(self: LazyInfo, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return method(self, *args, **kwargs)

    call.__name__, call.__doc__ = name, method.__doc__
    return call


for _name in ("__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__reversed__",
              "__len__", "__repr__", "__eq__", "__ne__", "__or__", "__ror__", "__ior__", "keys", "values",
              "items", "get", "copy", "pop", "popitem", "setdefault", "update", "clear"):
    setattr(LazyInfo, _name, _filling(_name))
