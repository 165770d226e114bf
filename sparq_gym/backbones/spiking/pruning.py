"""Membrane-guided channel pruning of the ``spquant`` network (seed 002): at once, or in steps.

A channel (conv) or unit (linear) of a neuron layer is scored by its mean
non-negative membrane potential before firing, averaged over images,
positions and timesteps and summed over the ``T`` timesteps: the channels
whose potential least often nears the threshold score lowest and go first.
Output layers are never pruned. A cut channel stays cut: its synapse's output
is masked to zero, so its neurons never fire and the next layer never reads it.

:func:`prune_by_membrane`
    One cut before fine-tuning, to the configured fractions, on statistics
    over a few training images in eval mode.
:class:`GradualPruning`
    The cut made in ``prune_events`` steps during fine-tuning, over the first
    ``prune_ramp`` of its steps, the pruned fraction of every layer following
    Zhu & Gupta's cubic ramp ``s_i = s (1 - (1 - i / n)^3)`` (most of the cut
    early, while the learning rate is high; the rest of the run recovers at
    the final sparsity). Each step ranks the still-kept channels by their
    statistics over the training batches since the previous step, so the
    network adapts to each cut before the next is chosen.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from sparq_gym.backbones.spec import LayerSpec
from sparq_gym.data import normalize_pixels

__all__ = ["GradualPruning", "PrunableNetwork", "cut_channels", "prune_by_membrane"]


class _Synapse(Protocol):
    spec: LayerSpec
    mask: Tensor  # 1 for a kept output channel, 0 for a cut one


class _Neuron(Protocol):
    stats: Tensor | None  # per-channel sums of the mean non-negative membrane, while recording


class _Settings(Protocol):
    prune_ramp: float
    prune_events: int

    def prune_of(self, kind: str) -> float: ...


class PrunableNetwork(Protocol):
    """What pruning needs of :class:`~sparq_gym.backbones.spiking.spquant.SpQuantNetwork`."""

    config: _Settings
    source: Any  # its mean and std normalize the images

    def neurons(self) -> dict[str, _Neuron]: ...

    def synapse_of(self, key: str) -> _Synapse: ...

    def eval(self) -> Any: ...

    def __call__(self, x: Tensor) -> list[Tensor]: ...


def cut_channels(network: PrunableNetwork, key: str, score: Tensor, fraction: float) -> dict[str, Any]:
    """Keep the highest-scoring ``1 - fraction`` of neuron layer ``key``'s channels (at least one).

    Channels already cut stay cut whatever their score. Returns the record of
    the cut: channels, kept, and the score of the last channel kept.
    """
    synapse = network.synapse_of(key)
    n = score.numel()
    keep = max(n - round(fraction * n), 1)
    ranked = torch.where(synapse.mask.bool(), score, torch.full_like(score, -torch.inf))
    order = torch.argsort(ranked, descending=True)  # as the shipped cuts were ranked
    mask = torch.zeros(n)
    mask[order[:keep]] = 1.0
    synapse.mask.copy_(mask)
    return {"channels": n, "kept": keep, "cut_mean_potential": float(score[order[keep - 1]])}


def _recording(network: PrunableNetwork, on: bool) -> None:
    """Start (zeroed) or stop every neuron layer's per-channel membrane statistics."""
    for key, neuron in network.neurons().items():
        neuron.stats = torch.zeros(network.synapse_of(key).spec.out_features) if on else None


@torch.no_grad()
def prune_by_membrane(network: PrunableNetwork, images: NDArray[np.uint8]) -> dict[str, dict[str, Any]]:
    """Cut every neuron layer to its configured fraction at once (module docstring).

    Statistics over ``images`` (uint8, training images) with the network in
    eval mode. Returns, per activation key, :func:`cut_channels`' record (the
    score in membrane units, summed over the ``T`` timesteps).
    """
    network.eval()
    sums: dict[str, Tensor] = {}
    mean, std = network.source.mean, network.source.std
    for start in range(0, images.shape[0], 128):
        x = normalize_pixels(torch.from_numpy(np.ascontiguousarray(images[start:start + 128])), mean, std)
        _recording(network, True)
        network(x)
        for key, neuron in network.neurons().items():
            assert neuron.stats is not None
            sums[key] = sums.get(key, 0) + neuron.stats * x.shape[0]
    _recording(network, False)
    config = network.config
    return {key: cut_channels(network, key, score / images.shape[0],
                              config.prune_of(network.synapse_of(key).spec.kind))
            for key, score in sums.items()}


class GradualPruning:
    """The cut in steps during fine-tuning (module docstring); its state goes into the checkpoint.

    Call :meth:`after_step` after every optimizer step: it counts the batch
    (whose forward pass added to the statistics) and, at a scheduled step,
    cuts every layer to that step's fraction and restarts the statistics.
    """

    def __init__(self, network: PrunableNetwork, n_steps: int) -> None:
        config = network.config
        self.network = network
        ramp = max(round(config.prune_ramp * n_steps), config.prune_events)
        count = config.prune_events
        self.schedule = {max(round(i * ramp / count), 1): 1.0 - (1.0 - i / count) ** 3
                         for i in range(1, count + 1)}
        self.batches = 0
        self.events: list[dict[str, Any]] = []
        self.final: dict[str, dict[str, Any]] = {}
        _recording(network, True)

    def after_step(self, step: int) -> None:
        """Count the batch of ``step`` (1-based); cut when ``step`` is scheduled."""
        self.batches += 1
        share = self.schedule.get(step)
        if share is None:
            return
        config = self.network.config
        layers = {}
        for key, neuron in self.network.neurons().items():
            assert neuron.stats is not None
            kind = self.network.synapse_of(key).spec.kind
            layers[key] = cut_channels(self.network, key, neuron.stats / self.batches,
                                       share * config.prune_of(kind))
        self.events.append({"step": step, "share_of_target": round(share, 4), "batches": self.batches,
                            "kept": {key: record["kept"] for key, record in layers.items()}})
        self.final = layers
        self.batches = 0
        _recording(self.network, step < max(self.schedule))  # after the last cut: no more statistics

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps (the masks are in the network's state)."""
        stats = {key: neuron.stats for key, neuron in self.network.neurons().items()}
        return {"batches": self.batches, "events": self.events, "stats": stats, "final": self.final}

    def load(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state`."""
        self.batches, self.events, self.final = state["batches"], state["events"], state["final"]
        for key, neuron in self.network.neurons().items():
            neuron.stats = state["stats"][key]  # None once the last cut is made

    def close(self) -> None:
        """Stop recording (the log is :attr:`events` and, per layer, the last cut's :attr:`final`)."""
        _recording(self.network, False)
