"""What a trace folder says it holds, against what the caller asked for.

A trace folder's manifest names its backbone, its network and its format (v0 or depth x
time). An environment asked for one of them while the folder holds another is an error that
says which id or argument replays it: never a silent replay under the wrong name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparq_gym.envs.registration import DEPTH_TIME_TABLE, ENV_TABLE
from sparq_gym.envs.settings import SettingsError
from sparq_gym.io import read_json
from sparq_gym.paths import NETWORKS

__all__ = ["check_trace_format", "check_trace_identity"]


def check_trace_format(trace_dir_path: Any, kind_name: str) -> None:
    """Raise :class:`~sparq_gym.errors.SettingsError` when ``trace_dir`` names no folder, or a folder
    of the other family's traces (its manifest's ``format``), saying which id replays them."""
    if not isinstance(trace_dir_path, (str, os.PathLike)):
        return  # the loader names the type it expects
    if not str(trace_dir_path).strip():
        raise SettingsError(f"trace_dir must name a trace folder, got {trace_dir_path!r}")
    manifest = Path(trace_dir_path) / "manifest.json"
    if not manifest.is_file():
        return  # the loader names what is missing
    try:
        held = read_json(manifest).get("format")
    except (OSError, ValueError, AttributeError):
        return  # the loader names what is wrong
    wants_time = kind_name.endswith("TimeTraceSet")
    if held == "depth_time" and not wants_time:
        raise SettingsError(
            f"trace_dir {str(trace_dir_path)!r} holds depth x time traces (format 'depth_time'); replay them "
            "with SPARQDepthTime-v0 (or a SPARQDepthTime-<backbone>-v0 id)"
        )
    if held != "depth_time" and wants_time:
        raise SettingsError(
            f"trace_dir {str(trace_dir_path)!r} holds v0 traces (exits in depth only); replay them with "
            "SPARQExit-v0, or extract depth x time traces (the pipeline's qdsnn_time folders)"
        )


def check_trace_identity(meta: Mapping[str, Any], backbone: str | None, network: str, where: str) -> None:
    """Raise :class:`~sparq_gym.errors.SettingsError` when traces that name their backbone and
    network (their manifest's ``backbone`` and ``network``) contradict the request: a backbone
    id replaying another backbone's traces, or ``network`` saying one variant while another runs.
    Synthetic traces (``backbone`` ``"synthetic..."``) stand in for any backbone and network."""
    held_backbone, held_network = str(meta.get("backbone", "")), str(meta.get("network", ""))
    if held_backbone.startswith("synthetic") or not held_backbone:
        return
    if backbone is not None and held_backbone != backbone:
        ids = [e.env_id for e in (*ENV_TABLE, *DEPTH_TIME_TABLE) if e.backbone == held_backbone]
        instead = f"its own ids {ids}" if ids else "the generic id (SPARQExit-v0 / SPARQDepthTime-v0)"
        raise SettingsError(
            f"{where} holds traces of backbone {held_backbone!r} (network {held_network!r}), but this id "
            f"replays {backbone!r}: use {instead}"
        )
    if held_network in NETWORKS and held_network != network:
        raise SettingsError(
            f"{where} holds traces of network {held_network!r}, but network={network!r} was asked for: "
            f"pass network={held_network!r} (--network {held_network})"
        )
