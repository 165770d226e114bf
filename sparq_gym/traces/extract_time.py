"""Depth x time trace extraction (spec §9): every head after every timestep, costs per (block|head, t).

One run of the spiking network per batch, the run v0's extraction makes
(:meth:`sparq_gym.backbones.spiking.SpikingNetwork.running_totals`, all exit
heads evaluated at every timestep, inside one
:class:`~sparq_gym.traces.counters.OpCounter`), read after every timestep
instead of only after the last one. The network is causal in time, so head
``k``'s output after ``t`` timesteps depends only on the blocks feeding it run
for ``t`` timesteps, and the counters, which add up per layer call, are exact
per timestep.

Format (``<out>/<backbone>/qdsnn_time/``: ``manifest.json``, ``train.npz``,
``test.npz``; ``train`` is the hold-out and ``test`` the official test set,
the same images in the same order as ``<backbone>/qdsnn/``). Per split, N
samples, E exits (final last), T timesteps, C classes, K counters
(:data:`~sparq_gym.traces.COUNTER_NAMES`):

================ ================ ======= ===================================================
array            shape            dtype   meaning
================ ================ ======= ===================================================
``labels``       (N,)             uint8   true class (int32 beyond 256 classes), as in v0
``sample_ids``   (N,)             int32   index of the image in its source split, as in v0
``probs``        (N, E, T, C)     float16 softmax of head k's output summed over timesteps
                                          1..t+1 and divided by t+1 (v0's rule at t+1 steps)
``block_counts`` (N, E, T, K)     int64   backbone layers up to exit k's tap point run for
                                          t+1 timesteps; k = E-1: the whole plain network
``head_counts``  (N, E, T, K)     int64   exit head k alone run for t+1 timesteps; 0 for the
                                          final exit (its layers are the backbone's)
``full_counts``  (N, K)           int64   the plain network for T timesteps (v0's)
================ ================ ======= ===================================================

What a block and a head cost per timestep (the counting of
:mod:`sparq_gym.traces.counters`, applied once per layer call, so the
counts after ``t`` timesteps are sums over the first ``t`` calls):

- *block k* (backbone segment ``k``: the backbone layers after exit ``k-1``'s
  tap, up to and including exit ``k``'s tap neurons): every synapse layer's
  weight reads, its input (MACs and input bytes for the analog first layer;
  ``synaptic_ops`` and one spike read per input spike otherwise), its
  neurons' ``lif_ops`` and membrane traffic, and the spikes its neurons emit
  and write. The spikes of exit ``k``'s tap neurons belong to block ``k``
  (emitted once, whoever reads them); ``block_counts[:, k]`` sums blocks
  ``0..k``.
- *head k*: its synapse layers, including the first one's reads of the tap
  spikes (``synaptic_ops`` and spike reads), its neurons, its output layer.

So the two never share a counter and the decomposition is exact:
``exit_counts[:, k] == block_counts[:, k, T-1] + head_counts[:, :k+1, T-1].sum(1)``,
``probs[:, :, T-1]`` equals v0's ``probs`` bit for bit and ``full_counts`` is
v0's (tests/traces/test_extract_time.py checks it on a small network and on
the shipped traces). A path that visits head ``j`` until timestep ``t_j`` and
stops at ``(k, t)`` costs ``block_counts[:, k, t-1] + sum_j head_counts[:, j, t_j - 1]``.

The manifest holds v0's keys (``network`` = ``"qdsnn"``, backbone config,
provenance, software versions, command) plus ``"format": "depth_time"``,
``splits`` (file, n_samples, sha256 per split), accuracy per exit and timestep
and mean counts per split. Archives are written atomically with
``np.savez_compressed`` (``block_counts`` and ``head_counts`` in column-major
order, which compresses them by about a third), then the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from sparq_gym.backbones.spec import BackboneSpec
from sparq_gym.backbones.spiking import SpikingNetwork
from sparq_gym.io import read_json
from sparq_gym.traces import COUNTER_NAMES
from sparq_gym.traces.counters import MemoryModel, OpCounter
from sparq_gym.traces.extract import LabelledImages, input_batches, variant_meta
from sparq_gym.traces.timeset import TIME_FORMAT, TimeTraceSet

__all__ = [
    "TIME_VARIANTS",
    "extract_time_arrays",
    "extract_time_traces",
    "save_time_split",
]

TIME_VARIANTS: dict[str, str] = {"qdsnn_time": "qdsnn", "multilevel_time": "multilevel",
                                 "spquant_time": "spquant"}
"""Depth x time trace names -> the network variant (:data:`~sparq_gym.traces.extract.VARIANTS`) they run."""

TIME_ARRAYS: tuple[str, ...] = ("labels", "sample_ids", "probs", "block_counts", "head_counts",
                                "full_counts")
"""The arrays of one split's archive."""


@torch.no_grad()
def extract_time_arrays(
    network: SpikingNetwork,
    images: NDArray[np.uint8],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    memory: MemoryModel,
    batch_size: int = 256,
    progress: bool = True,
    desc: str = "extract",
    channels_last: bool = False,
) -> dict[str, NDArray[Any]]:
    """Run the spiking ``network`` with all exits over ``images``, reading it after every timestep.

    One run per batch, the one v0's :func:`~sparq_gym.traces.extract.extract_arrays`
    makes (batches from :func:`~sparq_gym.traces.extract.input_batches`, one
    :class:`~sparq_gym.traces.counters.OpCounter`), read after each timestep. Returns ``probs``
    float16 ``(N, E, T, C)``, ``block_counts`` and ``head_counts`` int64
    ``(N, E, T, K)`` (cumulative over timesteps) and ``full_counts`` int64
    ``(N, K)`` (see the module docstring).
    """
    network.eval()
    out: dict[str, list[np.ndarray]] = {"probs": [], "block_counts": [], "head_counts": [],
                                        "full_counts": []}
    with OpCounter(network, spiking=True, memory=memory) as counter:
        for x in input_batches(images, mean, std, batch_size=batch_size, progress=progress, desc=desc,
                               channels_last=channels_last):
            counter.reset()
            probs, blocks, heads = [], [], []
            for t, totals in enumerate(network.running_totals(x), start=1):
                # v0's rule (SpikingNetwork.forward, extract_arrays) with t in place of T
                stacked = torch.stack([o / t for o in totals], dim=1).float()  # (B, E, C)
                probs.append(torch.softmax(stacked, dim=2).numpy().astype(np.float16))
                blocks.append(counter.block_counts())
                heads.append(counter.head_counts())
            out["probs"].append(np.stack(probs, axis=2))
            out["block_counts"].append(np.stack(blocks, axis=2))
            out["head_counts"].append(np.stack(heads, axis=2))
            out["full_counts"].append(counter.full_counts())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def extract_time_traces(
    network: SpikingNetwork,
    spec: BackboneSpec,
    data: LabelledImages,
    *,
    name: str = "qdsnn_time",
    meta: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
    """Extract one split of the depth x time traces ``name``: (arrays, manifest entries).

    ``name`` is a key of :data:`TIME_VARIANTS`; the manifest entries are those
    of its v0 variant (:func:`~sparq_gym.traces.extract.variant_meta`) plus
    ``format`` and ``meta`` (provenance).
    """
    if name not in TIME_VARIANTS:
        raise ValueError(f"name must be one of {sorted(TIME_VARIANTS)}, got {name!r}")
    variant = TIME_VARIANTS[name]
    full_meta, memory = variant_meta(network, spec, variant)
    arrays = extract_time_arrays(network, data.images, data.mean, data.std, memory=memory,
                                 batch_size=batch_size, progress=progress,
                                 desc=f"{spec.name} {name} {data.split}", channels_last=spec.channels_last)
    n_classes = arrays["probs"].shape[3]
    arrays["labels"] = data.label_array(n_classes)
    arrays["sample_ids"] = np.asarray(data.sample_ids).astype(np.int32)
    full_meta.update({"format": TIME_FORMAT, "n_exits": int(arrays["probs"].shape[1]),
                      "n_classes": int(n_classes)})
    full_meta["description"] += "; depth x time traces: every head after every timestep"
    full_meta.update(meta or {})
    return {key: arrays[key] for key in TIME_ARRAYS}, full_meta


def _split_summary(arrays: Mapping[str, NDArray[Any]], exit_names: list[str]) -> dict[str, Any]:
    """Accuracy per exit and timestep, and mean counts per (exit, timestep), of one split."""
    correct = arrays["probs"].argmax(axis=3) == arrays["labels"][:, None, None]
    accuracy = {name: [round(float(v), 6) for v in correct[:, k].mean(axis=0)]
                for k, name in enumerate(exit_names)}
    means = {counter: {"block_mean": arrays["block_counts"][..., i].mean(axis=0).round(3).tolist(),
                       "head_mean": arrays["head_counts"][..., i].mean(axis=0).round(3).tolist(),
                       "full_mean": float(arrays["full_counts"][:, i].mean())}
             for i, counter in enumerate(COUNTER_NAMES)}
    return {"accuracy": accuracy, "op_means": means}


def save_time_split(
    arrays: Mapping[str, NDArray[Any]],
    meta: Mapping[str, Any],
    directory: str | Path,
    split: str,
    split_provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write one split to ``directory/<split>.npz`` and update ``directory/manifest.json``.

    The arrays are validated and written by
    :meth:`sparq_gym.traces.timeset.TimeTraceSet.save` (archive, then
    manifest, both atomic; the other splits' entries are kept); the manifest
    also gets, keyed by split, ``accuracy`` per exit and timestep, ``op_means``
    (mean counts per exit and timestep) and ``split_provenance``. Returns the
    archive path.
    """
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    old: dict[str, Any] = read_json(manifest_path) if manifest_path.exists() else {}
    full_meta = dict(meta)
    summary = _split_summary(arrays, list(meta["exit_names"]))
    for key, value in [*summary.items(), ("split_provenance", split_provenance)]:
        merged = dict(old.get(key, {}))
        if value is not None:
            merged[split] = value
        full_meta[key] = merged
    # counts in column-major order: each counter's column is contiguous, deflate finds its
    # repeats (about 35 % smaller archives); np.load returns the same values and shapes
    stored = {key: np.asfortranarray(arrays[key]) if key.endswith("_counts") and arrays[key].ndim > 2
              else np.asarray(arrays[key]) for key in TIME_ARRAYS}
    return TimeTraceSet(**stored, meta=full_meta, split=split).save(directory)
