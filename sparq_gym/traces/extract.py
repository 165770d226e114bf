"""Trace extraction (spec §4): run a network over a split and record what every exit sees and costs.

For every image of a split the network is run once with all exit heads
(the dynamic ANN once; a spiking network for its ``T`` timesteps) inside a
:class:`sparq_gym.traces.counters.OpCounter`. Recorded per sample: the softmax of every
exit head (float16), the cumulative counters to reach every exit (the backbone
up to the exit plus every head evaluated on the way) and the counters of the
plain network without heads. Batched, with a tqdm progress bar; the result is
a :class:`sparq_gym.traces.TraceSet` written atomically by :func:`save_split`,
whose manifest carries the provenance: backbone description, data checksums
(:func:`sparq_gym.data.split_record`), software versions, the command, the
source weights' sha256, per-exit accuracy and op totals per split.

Variants and their manifest keys (read by :mod:`sparq_gym.energy`):

=============== ========= ============= =============== ===============================
network         timesteps weight_bits   activation_bits memory model (bytes)
=============== ========= ============= =============== ===============================
``qdsnn``       4         8 (INT8)      8               weights 1, membrane 4, spike 1
``snn``         32        32 (FP32)     32              weights 4, membrane 4, spike 1
``dynamic_ann`` 1         32 (FP32)     32              weights 4, activations 4
``multilevel``  1         8 (INT8)      8               weights 1, membrane 4, spike 1
``spquant``     4         4 / 8         8               weights 0.5 / 1, membrane 5/8, spike 1
=============== ========= ============= =============== ===============================

``multilevel`` (seed 004) sends integer spikes ``0..N``: ``spike_levels`` is
``N`` and ``spike_bits`` = ``ceil(log2(N+1))`` (1 for the binary networks); a
non-zero spike is one event in ``spikes`` and ``synaptic_ops`` and one byte in
``mem_bytes``, and the energy models price each of its synaptic ops as
``spike_bits`` accumulates (shift-and-add of ``z * w``). ``spquant`` (seed
002) keeps 4-bit weights in its linear layers and 8-bit ones in its
convolutions (``layer_weight_bits``), a ``membrane_bits``-bit integer membrane
(``neuron``), and counts only the channels and weights its pruning kept.

``activation_bits`` is the width of the analog operands that enter MACs: for
the spiking networks only the first layer's input image (8-bit codes after the
INT8 network's input quantization, float32 in the FP32 SNN); their hidden
activations are 1-bit spikes, priced per event through ``synaptic_ops``. The
membrane potentials are kept in float32 in both spiking networks.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from sparq_gym.backbones.spec import BackboneSpec
from sparq_gym.data import normalize_pixels
from sparq_gym.io import read_json
from sparq_gym.traces import COUNTER_NAMES, SCHEMA_VERSION, TraceSet
from sparq_gym.traces.counters import MemoryModel, OpCounter

__all__ = [
    "EXTRACTION_PACKAGES",
    "VARIANTS",
    "LabelledImages",
    "code_sha256",
    "extract_arrays",
    "extract_traces",
    "extraction_sources",
    "input_batches",
    "save_split",
    "software_versions",
    "summarize_counts",
    "variant_meta",
]


VARIANTS: dict[str, dict[str, Any]] = {
    "qdsnn": {"spiking": True, "timesteps": 4, "precision": "int8",
              "description": "quantized dynamic SNN: INT8 weights, T=4, IF neurons, spiking exit heads"},
    "snn": {"spiking": True, "timesteps": 32, "precision": "fp32",
            "description": "FP32 dynamic SNN: T=32, IF neurons, spiking exit heads"},
    "dynamic_ann": {"spiking": False, "timesteps": 1, "precision": "fp32",
                    "description": "dynamic ANN: the trained clip-floor-shift ANN with its exit heads"},
    "multilevel": {"spiking": True, "timesteps": 1, "precision": "int8",
                   "description": "multi-level SNN (seed 004): the QDSNN's INT8 weights and exits, integer "
                                  "spikes 0..N per timestep, T=1"},
    "spquant": {"spiking": True, "timesteps": 4, "precision": "int8",
                "description": "SpQuant-SNN (seed 002): integer membrane with saturation, membrane-guided "
                               "channel pruning, learned thresholds, 4-bit linear weights, fine-tuned from "
                               "the INT8 QSNN"},
}
"""Defaults of the shipped network variants (see the module docstring)."""


def software_versions() -> dict[str, str]:
    """Versions of Python, numpy, torch, snntorch and sparq_gym (for manifests)."""
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "torch": torch.__version__}
    try:
        import snntorch

        versions["snntorch"] = snntorch.__version__
    except ImportError:  # pragma: no cover - snntorch is a dependency
        versions["snntorch"] = "absent"
    try:
        from importlib.metadata import version

        versions["sparq_gym"] = version("sparq_gym")
    except Exception:  # not installed (running from a checkout)
        versions["sparq_gym"] = "checkout"
    commit = _git_commit()
    if commit:
        versions["sparq_gym_commit"] = commit
    return versions


EXTRACTION_PACKAGES: tuple[str, ...] = ("sparq_gym/backbones", "sparq_gym/traces")
"""Folders whose code decides what a trace holds (network run, counters, format)."""


def extraction_sources(root: Path | None = None) -> tuple[str, ...]:
    """Every ``.py`` file under :data:`EXTRACTION_PACKAGES`, relative to the repository root, sorted."""
    base = Path(__file__).resolve().parents[2] if root is None else Path(root)
    found = {path.relative_to(base).as_posix()
             for folder in EXTRACTION_PACKAGES for path in (base / folder).rglob("*.py")}
    return tuple(sorted(found))


def code_sha256(paths: tuple[str, ...] | None = None, root: Path | None = None) -> str:
    """sha256 over the given source files (default: :func:`extraction_sources`), in order.

    The pipeline records it among an extraction stage's inputs, so a change to the
    counting or spiking code re-runs the extraction instead of leaving stale traces.
    """
    import hashlib

    base = Path(__file__).resolve().parents[2] if root is None else Path(root)
    names = extraction_sources(base) if paths is None else paths
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8") + b"\0")
        digest.update((base / name).read_bytes())
    return digest.hexdigest()


def _git_commit() -> str | None:
    """``<sha>`` (or ``<sha>-dirty``) of the checkout this code runs from, if it is one."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def input_batches(
    images: NDArray[np.uint8],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    batch_size: int = 256,
    progress: bool = True,
    desc: str = "extract",
    channels_last: bool = False,
) -> Iterator[Tensor]:
    """The uint8 ``images`` ``(N, C, H, W)`` as normalized float batches, in order (tqdm bar optional).

    Every extraction feeds its network through this one function: pixels scaled
    to [0, 1] and normalized with ``mean``/``std``, ``channels_last`` memory
    format on request.
    """
    starts: Any = range(0, images.shape[0], batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, unit="batch", leave=False,
                      mininterval=1.0 if sys.stderr.isatty() else 30.0)
    for start in starts:
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        x = normalize_pixels(batch, mean, std)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yield x


@torch.no_grad()
def extract_arrays(
    network: nn.Module,
    images: NDArray[np.uint8],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    spiking: bool,
    memory: MemoryModel,
    batch_size: int = 256,
    progress: bool = True,
    desc: str = "extract",
    channels_last: bool = False,
) -> tuple[NDArray[np.float16], NDArray[np.int64], NDArray[np.int64]]:
    """Run ``network`` with all exits over uint8 ``images``; return probabilities and counts.

    Images ``(N, C, H, W)`` are normalized with ``mean``/``std`` (pixels scaled
    to [0, 1]) and processed in batches. Returns ``probs`` float16
    ``(N, E, C)`` (softmax of each exit's output), ``exit_counts`` int64
    ``(N, E, K)`` and ``full_counts`` int64 ``(N, K)`` over
    :data:`~sparq_gym.traces.COUNTER_NAMES`, measured by
    :class:`~sparq_gym.traces.counters.OpCounter` (``spiking`` selects its mode).
    ``channels_last`` feeds conv networks in that memory format (faster on CPU;
    the INT8 network's integer results do not depend on it).
    """
    network.eval()
    probs: list[np.ndarray] = []
    exits: list[np.ndarray] = []
    fulls: list[np.ndarray] = []
    with OpCounter(network, spiking=spiking, memory=memory) as counter:
        for x in input_batches(images, mean, std, batch_size=batch_size, progress=progress, desc=desc,
                               channels_last=channels_last):
            counter.reset()
            outputs = network(x)
            stacked = torch.stack([o.float() for o in outputs], dim=1)  # (B, E, C)
            probs.append(torch.softmax(stacked, dim=2).numpy().astype(np.float16))
            exits.append(counter.exit_counts())
            fulls.append(counter.full_counts())
    return np.concatenate(probs), np.concatenate(exits), np.concatenate(fulls)


def summarize_counts(exit_counts: NDArray[np.int64], full_counts: NDArray[np.int64]) -> dict[str, Any]:
    """Mean per sample of every counter, per exit and for the plain network (JSON-able)."""
    return {
        name: {"per_exit_mean": [float(v) for v in exit_counts[:, :, k].mean(axis=0)],
               "full_mean": float(full_counts[:, k].mean())}
        for k, name in enumerate(COUNTER_NAMES)
    }


def variant_meta(network: nn.Module, spec: BackboneSpec, variant: str) -> tuple[dict[str, Any], MemoryModel]:
    """The manifest entries that describe ``variant`` run as ``network``, and its memory model.

    ``variant`` is a key of :data:`VARIANTS`. Bit widths and the memory model
    follow the weights the network really uses (its ``precision``), the
    timesteps its ``timesteps``; the software versions are recorded too.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    info = VARIANTS[variant]
    precision = getattr(network, "precision", info["precision"])
    bits = 8 if precision == "int8" else 32
    # narrower layers (spquant's 4-bit linear layers) are priced per layer by the memory counter;
    # ``weight_bits`` is the widest layer's, the width the dataflow models take for every weight
    narrow = dict(getattr(network, "layer_weight_bits", {}) or {})
    n_layers = sum(1 for m in network.modules() if hasattr(m, "layer") and hasattr(m, "spec"))
    weight_bits = max(narrow.values()) if narrow and len(narrow) == n_layers else bits
    spike_levels = int(getattr(network, "spike_levels", 1))
    spike_bits = max(1, (spike_levels).bit_length())  # a spike 0..N needs ceil(log2(N+1)) bits
    membrane_bytes: float = 4
    neuron = dict(getattr(network, "neuron_model", {}) or {})
    if neuron.get("kind") == "integer_membrane":
        membrane_bytes = int(neuron["membrane_bits"]) / 8
    if info["spiking"]:
        memory = MemoryModel(weight_bytes=bits // 8, activation_bytes=bits // 8,
                             membrane_bytes=membrane_bytes, spike_bytes=1)
    else:
        memory = MemoryModel(weight_bytes=4, activation_bytes=4)
    timesteps = getattr(network, "timesteps", info["timesteps"])
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "backbone": spec.name,
        "network": variant,
        "dataset": spec.dataset,
        "counters": list(COUNTER_NAMES),
        "exit_names": list(spec.exit_names),
        "timesteps": int(timesteps),
        "precision": precision,
        "weight_bits": weight_bits,
        "activation_bits": bits,
        "memory_model": asdict(memory),
        "description": info["description"],
        "backbone_config": spec.to_dict(),
        "software": software_versions(),
    }
    if info["spiking"]:
        meta["spike_bits"] = spike_bits
        meta["spike_levels"] = spike_levels
    if neuron:
        meta["neuron"] = neuron
    layer_bits = dict(getattr(network, "layer_weight_bits", {}) or {})
    if layer_bits:
        meta["layer_weight_bits"] = layer_bits
    return meta, memory


@dataclass(frozen=True)
class LabelledImages:
    """One split's images as an extraction reads them.

    :param split: the trace split they become (``"train"`` or ``"test"``).
    :param images: uint8 images ``(N, C, H, W)``.
    :param labels: true class per image, ``(N,)``.
    :param sample_ids: each image's index in its source dataset split, ``(N,)``.
    :param mean: per-channel normalisation mean (of pixels scaled to [0, 1]).
    :param std: per-channel normalisation standard deviation.
    """

    split: str
    images: NDArray[np.uint8]
    labels: NDArray[np.integer[Any]]
    sample_ids: NDArray[np.integer[Any]]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def label_array(self, n_classes: int) -> NDArray[np.integer[Any]]:
        """The labels in the traces' dtype: uint8 up to 256 classes, else int32."""
        return np.asarray(self.labels).astype(np.uint8 if n_classes <= 256 else np.int32)


def extract_traces(
    network: nn.Module,
    spec: BackboneSpec,
    variant: str,
    data: LabelledImages,
    *,
    meta: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> TraceSet:
    """Extract one split of one variant as a :class:`~sparq_gym.traces.TraceSet`.

    ``variant`` is a key of :data:`VARIANTS` (its spiking mode, memory model,
    timesteps and bit widths go into the meta); ``meta`` adds or overrides
    manifest entries (provenance).
    """
    full_meta, memory = variant_meta(network, spec, variant)
    probs, exit_counts, full_counts = extract_arrays(
        network, data.images, data.mean, data.std, spiking=VARIANTS[variant]["spiking"], memory=memory,
        batch_size=batch_size, progress=progress, desc=f"{spec.name} {variant} {data.split}",
        channels_last=spec.channels_last)
    full_meta.update(meta or {})
    return TraceSet(
        labels=data.label_array(probs.shape[2]),
        probs=probs,
        exit_counts=exit_counts,
        full_counts=full_counts,
        sample_ids=np.asarray(data.sample_ids).astype(np.int32),
        meta=full_meta,
        split=data.split,
    )


_PER_SPLIT_KEYS = ("op_means", "accuracy", "split_provenance")


def save_split(traces: TraceSet, directory: str | Path,
               split_provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``traces`` into the trace directory, keeping the other splits' per-split records.

    Adds to the manifest, keyed by split: ``op_means`` (:func:`summarize_counts`),
    ``accuracy`` (per exit) and ``split_provenance`` (e.g. the data record and
    the source weights' sha256). The archive and the manifest are written
    atomically by :meth:`TraceSet.save`, which also records the sha256.
    """
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    old = read_json(manifest_path) if manifest_path.exists() else {}
    extra: dict[str, Any] = {}
    for key in _PER_SPLIT_KEYS:
        merged = dict(old.get(key, {}))
        merged.update(dict(traces.meta.get(key, {})))
        extra[key] = merged
    extra["op_means"][traces.split] = summarize_counts(traces.exit_counts, traces.full_counts)
    extra["accuracy"][traces.split] = dict(zip(traces.exit_names, traces.accuracy_per_exit(), strict=True))
    if split_provenance is not None:
        extra["split_provenance"][traces.split] = dict(split_provenance)
    return traces.save(directory, manifest_extra=extra)
