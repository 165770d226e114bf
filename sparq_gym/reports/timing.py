"""Table 2's inference time per image: measured on this CPU, or read from the pipeline's record.

``"measure"``: the shipped INT8 weights (``pretrained/<backbone>/weights``) are
run at T=4 on a batch of test images, and dequantized to float32 and run at
T=32 for the SNN row (the FP32 weights are not shipped; dense PyTorch kernels
cost the same whatever the weight values). The QDSNN time is the
exit-distribution-weighted mean of the time to reach each exit (backbone up to
the exit plus every head on the way). ``"recorded"``: the wall time the
pipeline recorded for extracting the ``test`` traces (every head evaluated,
operation counting included). ``"auto"`` measures when weights and data exist,
else reads the record; ``"none"`` gives no time at all.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparq_gym.traces import TraceSet

__all__ = ["TIMING_MODES", "measure_inference_times", "report_timing", "row_seconds"]

TIMING_MODES: tuple[str, ...] = ("auto", "measure", "recorded", "none")
"""How Table 2's inference time is obtained (see the module docstring)."""


def _run_to_exit(network: Any, x: Any, exit_index: int) -> None:
    """Run ``network`` for T steps up to exit ``exit_index`` (every head on the way evaluated)."""
    n_heads = len(network.heads)
    last = network.exit_after[exit_index] if exit_index < n_heads else len(network.blocks) - 1
    network.reset()
    for _ in range(network.timesteps):
        h = x
        head = 0
        for i in range(last + 1):
            h = network.blocks[i](h)
            if i < len(network.activations):
                h = network.activations[i](h)
            if head < n_heads and head <= exit_index and network.exit_after[head] == i:
                network.heads[head](h)
                head += 1
    network.reset()


def _median_seconds(function: Callable[[], Any], repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _dequantized(weights: Any) -> Any:
    """FP32 copy of INT8 :class:`SpikingWeights` (``w * scale`` per output channel)."""
    from sparq_gym.backbones.spiking import LayerWeights, SpikingWeights

    layers = {}
    for key, layer in weights.layers.items():
        w = np.asarray(layer.weight, dtype=np.float32)
        scale = np.asarray(layer.weight_scale, dtype=np.float32).reshape(-1, *([1] * (w.ndim - 1)))
        layers[key] = LayerWeights((w * scale).astype(np.float32), layer.bias.astype(np.float32))
    return SpikingWeights(spec=weights.spec, precision="fp32", layers=layers,
                          thresholds=dict(weights.thresholds), mean=weights.mean, std=weights.std,
                          provenance={"dequantized_from": "int8"})


def measure_inference_times(
    weights_dir: str | Path,
    images: NDArray[np.floating[Any]],
    *,
    qsnn_timesteps: int = 4,
    snn_timesteps: int = 32,
    repeats: int = 3,
    threads: int = 1,
) -> dict[str, Any]:
    """Time the shipped spiking networks on ``images`` on this CPU; seconds per image.

    ``images`` are normalized float32 ``(n, *input_shape)``. Loads the INT8
    weights ``weights_dir/qsnn_int8.{npz,json}`` and times, as the median of
    ``repeats`` runs on the whole batch after one warm-up, divided by ``n``:
    the QSNN (INT8, ``qsnn_timesteps``, no heads), each exit of the QDSNN
    (INT8, backbone up to the exit plus every head on the way) and the SNN
    (the same weights dequantized to float32, ``snn_timesteps``, no heads).
    Uses ``threads`` torch threads and restores the previous setting.
    """
    import torch

    from sparq_gym.backbones.spiking import SpikingNetwork, load_weights

    weights = load_weights(weights_dir, "qsnn_int8")
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    n = int(x.shape[0])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            qsnn = SpikingNetwork(weights, qsnn_timesteps).eval()
            snn = SpikingNetwork(_dequantized(weights), snn_timesteps).eval()
            n_exits = len(qsnn.heads) + 1
            qsnn_s = _median_seconds(lambda: qsnn(x, with_exits=False), repeats)
            exit_s = [_median_seconds(partial(_run_to_exit, qsnn, x, k), repeats)
                      for k in range(n_exits)]
            snn_s = _median_seconds(lambda: snn(x, with_exits=False), repeats)
    finally:
        torch.set_num_threads(previous)
    return {
        "qsnn_s": qsnn_s / n,
        "qdsnn_exit_s": [t / n for t in exit_s],
        "snn_s": snn_s / n,
        "n_images": n,
        "repeats": repeats,
        "threads": threads,
        "torch": torch.__version__,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _measured(weights_dir: Path, traces: Mapping[str, TraceSet], *, data_root: str | None,
              images: int, repeats: int, threads: int) -> dict[str, Any]:
    """Time the shipped weights on the first ``images`` test images (:func:`measure_inference_times`)."""
    if not (weights_dir / "qsnn_int8.json").exists():
        raise FileNotFoundError(f"{weights_dir / 'qsnn_int8.json'} is missing")
    from sparq_gym.backbones.spiking import load_weights
    from sparq_gym.data import load_split, normalize_pixels

    weights = load_weights(weights_dir, "qsnn_int8")
    split = load_split(weights.spec.dataset, "test", data_root)
    batch = normalize_pixels(split.images[:images], weights.mean, weights.std)
    result = measure_inference_times(
        weights_dir, batch.reshape(-1, *weights.spec.input_shape),
        qsnn_timesteps=int(traces["qdsnn"].meta.get("timesteps", 4)) if "qdsnn" in traces else 4,
        snn_timesteps=int(traces["snn"].meta.get("timesteps", 32)) if "snn" in traces else 32,
        repeats=repeats, threads=threads)
    return {**result, "note": f"median of {repeats} runs of a batch of {result['n_images']} test "
            f"images, {threads} torch thread(s), divided by the batch size"}


def _recorded(manifest: Mapping[str, Any], traces: Mapping[str, TraceSet], split: str) -> dict[str, Any]:
    """Per-image seconds from the pipeline's recorded extraction times of ``split`` (empty if none)."""
    wall = manifest.get("wall_seconds", {})
    recorded: dict[str, Any] = {}
    for network, key in (("snn", "snn_s"), ("qdsnn", "qsnn_s")):
        seconds = wall.get(f"extract:{network}:{split}")
        if seconds is not None and network in traces:
            recorded[key] = float(seconds) / traces[network].n_samples
    per_image = recorded.get("qsnn_s")
    if per_image is not None and "qdsnn" in traces:
        recorded["qdsnn_exit_s"] = [per_image] * traces["qdsnn"].n_exits
    return recorded


def report_timing(mode: str, backbone_dir: Path, traces: Mapping[str, TraceSet],
                  manifest: Mapping[str, Any], *, split: str = "test", data_root: str | None = None,
                  images: int = 16, repeats: int = 3, threads: int = 1) -> dict[str, Any]:
    """Per-image seconds for the SNN, the QSNN and each QDSNN exit, and where they come from.

    ``mode`` is one of :data:`TIMING_MODES`. ``"measure"`` times the weights
    under ``backbone_dir/weights`` on ``images`` test images (``repeats``
    runs, ``threads`` torch threads) and raises when it cannot;
    ``"recorded"`` reads ``manifest["wall_seconds"]`` and raises when it
    holds no extraction time; ``"auto"`` tries one then the other. The
    result's ``source`` is ``"measured"``, ``"recorded"`` or ``"none"``.
    """
    base = {"cpu": _cpu_name(), "machine": platform.machine()}
    if mode == "none":
        return {"source": "none", **base}
    reasons: list[str] = []
    if mode in ("auto", "measure"):
        try:
            measured = _measured(backbone_dir / "weights", traces, data_root=data_root, images=images,
                                 repeats=repeats, threads=threads)
            return {"source": "measured", **base, **measured}
        except (FileNotFoundError, OSError, ValueError, KeyError) as err:
            if mode == "measure":
                raise
            reasons.append(f"not measured: {err}")
    recorded = _recorded(manifest, traces, split)
    if recorded:
        return {"source": "recorded", **base, **recorded, "reasons": reasons,
                "note": "the pipeline's recorded wall time of extracting the test traces, per "
                "image (every head evaluated, operation counting included; the QDSNN rows get "
                "the full-pass time)"}
    if mode == "recorded":
        raise ValueError(f"{backbone_dir / 'manifest.json'}: no recorded extraction times")
    return {"source": "none", **base, "reasons": reasons}


def row_seconds(key: str, exit_fractions: Sequence[float], timing: Mapping[str, Any]) -> float | None:
    """Seconds per image of the Table 2 row ``key`` under :func:`report_timing`'s result.

    The SNN and QSNN rows take their network's time; a QDSNN row takes the
    exit fractions times the time to reach each exit. ``None`` when unknown.
    """
    if key == "snn":
        return timing.get("snn_s")
    if key == "qsnn":
        return timing.get("qsnn_s")
    per_exit = timing.get("qdsnn_exit_s")
    if key.startswith("qdsnn") and per_exit is not None:
        return float(np.dot(exit_fractions, per_exit))
    return None
