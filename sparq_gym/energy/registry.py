"""Every energy model by name: what ``cost="energy:<name>"`` looks up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sparq_gym.energy.base import EnergyModel
from sparq_gym.energy.dataflow import DataflowEnergyModel
from sparq_gym.energy.dataflow_hardware import get_preset
from sparq_gym.energy.sparq import SparqEnergyModel
from sparq_gym.errors import ConfigError

__all__ = ["ENERGY_MODEL_NAMES", "get_energy_model", "with_hardware"]


def _dataflow(preset: str, name: str) -> Callable[[], EnergyModel]:
    """A factory of the dataflow model on hardware ``preset``, registered as ``name``."""
    return lambda: DataflowEnergyModel(hardware=get_preset(preset), name=name)


_REGISTRY: dict[str, Callable[[], EnergyModel]] = {
    "sparq": lambda: SparqEnergyModel(),
    "sparq-compute": lambda: SparqEnergyModel(name="sparq-compute", include_memory=False),
    "dataflow-theoretical-minimum": _dataflow(
        "theoretical-minimum", "dataflow-theoretical-minimum"
    ),
    "dataflow-typical-neuromorphic": _dataflow(
        "typical-neuromorphic", "dataflow-typical-neuromorphic"
    ),
    "dataflow-typical": _dataflow("typical-neuromorphic", "dataflow-typical"),
    "dataflow-worst-case-sparse": _dataflow("worst-case-sparse", "dataflow-worst-case-sparse"),
}

ENERGY_MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)
"""Every name :func:`get_energy_model` accepts (``dataflow-typical`` is an alias)."""


def get_energy_model(name: str) -> EnergyModel:
    """Return a fresh instance of the energy model registered as ``name``.

    Known names are :data:`ENERGY_MODEL_NAMES`; an unknown name raises a
    ``ValueError`` that lists them. The environments call this for
    ``cost="energy:<name>"``.
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown energy model {name!r}; expected one of {list(ENERGY_MODEL_NAMES)}"
        )
    return factory()


def with_hardware(model: DataflowEnergyModel, **changes: Any) -> DataflowEnergyModel:
    """A copy of ``model`` whose hardware has ``changes`` applied (e.g. ``hops=4``)."""
    return replace(model, hardware=replace(model.hardware, **changes))

