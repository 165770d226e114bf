"""Where the shipped artifacts live, from a checkout and from an installed wheel."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["ANN_NETWORKS", "DEFAULT_NETWORK", "NETWORKS", "SEED_NETWORKS", "TIME_NETWORKS", "pretrained_root",
           "trace_dir"]

DEFAULT_NETWORK = "qdsnn"
"""The network every environment replays unless told otherwise (``network=``)."""

ANN_NETWORKS: tuple[str, ...] = (DEFAULT_NETWORK, "dynamic_ann", "snn")
"""Network variants built from the trained ANN: the quantized dynamic SNN (T=4,
INT8; the default), the dynamic ANN and the FP32 dynamic SNN (T=32)."""

SEED_NETWORKS: tuple[str, ...] = ("multilevel", "spquant")
"""Network variants of the related seeds (spec §8), built from the shipped INT8
weights: multi-level spikes at T=1 (seed 004) and SpQuant-SNN (seed 002)."""

NETWORKS: tuple[str, ...] = ANN_NETWORKS + SEED_NETWORKS
"""Network variants with exits whose traces the pipeline ships; every environment
replays any of them with ``network=``."""

TIME_NETWORKS: tuple[str, ...] = ("qdsnn_time", "multilevel_time", "spquant_time")
"""Depth x time trace sets the pipeline ships (spec §9; ``pretrained/<backbone>/qdsnn_time/``):
every head of the INT8 T=4 network after every timestep. Not in :data:`NETWORKS`: the v0
environments cannot replay them."""

_CHECKOUT_ROOT = Path(__file__).resolve().parents[1] / "pretrained"


def pretrained_root() -> Path:
    """The ``pretrained/`` directory in use.

    ``$SPARQ_PRETRAINED`` when set; else ``pretrained/`` beside the package in a
    checkout (editable installs included); else the copy installed with the
    wheel as the ``sparq_gym_pretrained`` package.
    """
    override = os.environ.get("SPARQ_PRETRAINED")
    if override:
        return Path(override)
    if _CHECKOUT_ROOT.is_dir():
        return _CHECKOUT_ROOT
    # Installed from a wheel: ``pretrained/`` is the data-only (namespace)
    # package ``sparq_gym_pretrained``; take its directory on disk.
    spec = importlib.util.find_spec("sparq_gym_pretrained")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return _CHECKOUT_ROOT


def trace_dir(backbone: str, network: str = DEFAULT_NETWORK) -> Path:
    """Directory of the shipped traces of ``backbone`` (e.g. ``"alexnet"``) and ``network``."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {list(NETWORKS)}, got {network!r}")
    return pretrained_root() / backbone / network
