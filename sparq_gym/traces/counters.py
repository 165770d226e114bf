"""Per-sample operation counters measured with forward hooks (spec §3).

:class:`OpCounter` attaches hooks to a network built by
:mod:`sparq_gym.backbones.model` (or any module with the same layout:
``blocks`` / ``activations`` / ``heads[k].blocks`` / ``heads[k].activations``
and ``exit_after``) and accumulates, for every sample of the batch, the
counters of :data:`sparq_gym.traces.COUNTER_NAMES`:

``macs``
    Multiply-accumulates of layers fed with analog values: every layer of an
    ANN, and the first layer of a spiking network (direct encoding: the pixels
    enter as currents at every timestep). Conv: output elements x
    ``in_channels/groups`` x ``k_h k_w``; linear: ``in x out``. BatchNorm is
    folded into the weights and pooling is not counted.
``synaptic_ops``
    Accumulates triggered by spikes: each input spike of a spike-fed layer costs
    its fan-out, the number of weights it touches. For a linear layer that is
    ``out_features``; for a convolution ``C_out/groups`` x the number of kernel
    positions that cover the input pixel, which depends on padding and stride
    and is computed exactly with ``fold`` (the adjoint of the sliding window).
    An average pool in front of the layer maps each input pixel to one pooled
    pixel, so a spike's fan-out is that of its pooled position.
``spikes``
    Spikes emitted by the neuron layers (the paper's Eq. 8 literally).
``lif_ops``
    ``2`` (decay + compare, Eq. 9) for every neuron at every timestep: every
    output element of every synapse layer evaluated on the path (including the
    output layer's 10 units), counted each time the layer runs, so ``T`` calls
    give ``neurons x T x 2``.
``mem_bytes``
    Memory traffic under :class:`MemoryModel` (stated there).

In ``spiking=False`` mode (ANN) only ``macs`` and ``mem_bytes`` are non-zero.
In ``spiking=True`` mode the counter expects each activation output to be a
binary spike map per timestep, possibly scaled by a threshold: a spike is an
entry that is non-zero.

Costs are kept per *part* of the network (the backbone segment leading to each
exit, and each head) and combined into cumulative per-exit counts: reaching
exit ``e`` costs the backbone up to ``e`` plus every head evaluated on the way
(heads ``0..e``); ``full`` is the plain backbone without heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from sparq_gym.traces import COUNTER_NAMES

__all__ = [
    "MemoryModel",
    "OpCounter",
    "conv_fanout",
    "count_ann",
    "synaptic_ops",
]

_K = {name: i for i, name in enumerate(COUNTER_NAMES)}


@dataclass(frozen=True)
class MemoryModel:
    """Byte widths of the memory-traffic model behind ``mem_bytes``.

    Per evaluation of a synapse layer (once per timestep in a spiking network):
    every weight and bias is read once (``weight_bytes`` each; no reuse across
    timesteps or samples). ANN layers read their input activations and write
    their outputs (``activation_bytes`` each). In a spiking network the analog
    first layer reads its input like an ANN layer, spike-fed layers read one
    ``spike_bytes`` event per incoming spike, every neuron reads and writes its
    membrane potential (``2 x membrane_bytes``), and each emitted spike is
    written once (``spike_bytes``).

    Widths may be fractions of a byte in multiples of one bit (``0.5`` for a
    4-bit weight or membrane): traffic is summed in bits and each per-sample
    total is rounded up to whole bytes when read.

    :param weight_bytes: bytes per weight (4 for FP32, 1 for INT8, 0.5 for 4-bit).
    :param activation_bytes: bytes per analog activation.
    :param membrane_bytes: bytes per membrane potential.
    :param spike_bytes: bytes per spike event.
    """

    weight_bytes: float = 4
    activation_bytes: float = 4
    membrane_bytes: float = 4
    spike_bytes: float = 1

    def __post_init__(self) -> None:
        for name in ("weight_bytes", "activation_bytes", "membrane_bytes", "spike_bytes"):
            value = getattr(self, name)
            if value <= 0 or abs(value * 8 - round(value * 8)) > 1e-9:
                raise ValueError(f"MemoryModel.{name} must be a positive multiple of 1/8 byte, got {value!r}")

    def bits(self, name: str) -> int:
        """Width of ``name`` (``"weight"``, ``"activation"``, ``"membrane"`` or ``"spike"``) in bits."""
        return round(getattr(self, f"{name}_bytes") * 8)


def conv_fanout(conv: nn.Conv2d, input_hw: tuple[int, int]) -> Tensor:
    """Fan-out of every input pixel of ``conv``: ``(H, W)`` int64 tensor.

    Entry ``(i, j)`` is the number of weights a unit spike at ``(c, i, j)``
    touches, the same for every input channel ``c``: ``C_out/groups`` times the
    number of output positions whose receptive field covers ``(i, j)``,
    respecting padding, stride and dilation.
    """
    h, w = input_hw
    ones = torch.ones(1, 1, h, w)
    kernel = conv.kernel_size
    # number of sliding windows, then scatter each window's coverage back (fold = adjoint)
    columns = F.unfold(ones, kernel, dilation=conv.dilation, padding=conv.padding,
                       stride=conv.stride)
    cover = F.fold(torch.ones_like(columns), (h, w), kernel, dilation=conv.dilation,
                   padding=conv.padding, stride=conv.stride)
    per_channel = conv.out_channels // conv.groups
    return cover[0, 0].round().to(torch.int64) * per_channel


def _block_fanout(block: nn.Module, input_shape: tuple[int, ...]) -> Tensor:
    """Fan-out of every element of ``block``'s input (before its pooling): int64 tensor.

    Returns ``(H, W)`` for a conv layer (the same for every channel) and a
    0-d tensor for a linear layer (the same for every element).
    """
    layer = block.layer
    pool = block.spec.pool_before if hasattr(block, "spec") else 1
    if isinstance(layer, nn.Linear):
        return torch.tensor(layer.out_features, dtype=torch.int64)
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"expected a Conv2d or Linear synapse layer, got {type(layer).__name__}")
    h, w = input_shape[-2:]
    if h % pool or w % pool:
        raise ValueError(f"pool {pool} does not divide the {h}x{w} input")
    fan = conv_fanout(layer, (h // pool, w // pool))
    if pool > 1:
        fan = fan.repeat_interleave(pool, 0).repeat_interleave(pool, 1)
    return fan


def synaptic_ops(spikes: Tensor, fanout: Tensor) -> Tensor:
    """Per-sample synaptic ops: ``sum(spikes * fanout)`` over all but the batch axis.

    ``spikes`` holds spike counts ``(N, C, H, W)`` (with ``fanout`` of shape
    ``(H, W)``) or ``(N, ...)`` (with a scalar ``fanout``). Computed in int64
    so large layers are exact. Returns an int64 tensor ``(N,)``.
    """
    counts = spikes.to(torch.int64)
    if fanout.dim() == 0:
        return counts.flatten(1).sum(1) * fanout
    per_pixel = counts.sum(1)  # (N, H, W): the fan-out does not depend on the channel
    return (per_pixel * fanout).flatten(1).sum(1)


def _active_fraction(block: nn.Module) -> tuple[int, int]:
    """``(active, all)`` output channels of ``block`` (all of them unless pruned)."""
    layer = block.layer
    total = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
    return int(getattr(block, "active_outputs", total)), int(total)


def _bytes(counts: Tensor) -> NDArray[np.int64]:
    """A copy of ``counts`` with its ``mem_bytes`` column turned from bits into whole bytes (rounded up)."""
    out = counts.clone()
    k = _K["mem_bytes"]
    out[..., k] = torch.div(out[..., k] + 7, 8, rounding_mode="floor")
    return out.numpy()


def _layer_macs(layer: nn.Module, output: Tensor) -> int:
    per_sample = output[0].numel()
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size[0] * layer.kernel_size[1]
        return per_sample * (layer.in_channels // layer.groups) * k
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features
    raise TypeError(f"expected a Conv2d or Linear synapse layer, got {type(layer).__name__}")


class OpCounter:
    """Context manager that counts operations per sample while a network runs.

    :param network: a network with ``blocks``, ``activations``, ``heads`` and
        ``exit_after`` (see the module docstring).
    :param spiking: count as a spiking network (synaptic ops, spikes, LIF ops)
        rather than as an ANN (MACs only).
    :param memory: byte widths of the ``mem_bytes`` model.

    Use::

        with OpCounter(net, spiking=False) as counter:
            net(x)
        per_exit = counter.exit_counts()   # (N, E, K) int64
        plain = counter.full_counts()      # (N, K) int64

    For a spiking network, run all ``T`` timesteps inside the block; every
    layer call adds its cost. :meth:`reset` clears the counts (e.g. per batch).
    """

    def __init__(self, network: nn.Module, *, spiking: bool,
                 memory: MemoryModel | None = None) -> None:
        self.network = network
        self.spiking = spiking
        self.memory = memory if memory is not None else MemoryModel()
        self.n_exits = len(network.heads) + 1
        self._handles: list[Any] = []
        self._parts: Tensor | None = None
        self._fanouts: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    # ------------------------------------------------------------------ hooks
    def _part_of_backbone_layer(self, index: int) -> int:
        for k, after in enumerate(self.network.exit_after):
            if index <= after:
                return k
        return self.n_exits - 1

    def __enter__(self) -> OpCounter:
        net = self.network
        for i, block in enumerate(net.blocks):
            part = self._part_of_backbone_layer(i)
            self._handles.append(block.register_forward_hook(self._block_hook(part)))
        for i, act in enumerate(net.activations):
            part = self._part_of_backbone_layer(i)
            self._handles.append(act.register_forward_hook(self._activation_hook(part)))
        for k, head in enumerate(net.heads):
            part = self.n_exits + k
            for block in head.blocks:
                self._handles.append(block.register_forward_hook(self._block_hook(part)))
            for act in head.activations:
                self._handles.append(act.register_forward_hook(self._activation_hook(part)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget all counts (the hooks stay attached)."""
        self._parts = None

    def _add(self, part: int, counter: str, values: Tensor | int, batch: int) -> None:
        if self._parts is None:
            self._parts = torch.zeros(batch, 2 * self.n_exits - 1, len(COUNTER_NAMES),
                                      dtype=torch.int64)
        elif self._parts.shape[0] != batch:
            raise ValueError(
                f"batch size changed from {self._parts.shape[0]} to {batch} without reset()"
            )
        self._parts[:, part, _K[counter]] += values

    def _block_hook(self, part: int) -> Any:
        mem = self.memory

        def hook(block: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            x = inputs[0]
            n = x.shape[0]
            layer = block.layer
            # a pruned layer (spquant) reads only the weights it keeps and evaluates only its
            # active output channels; the others do not exist on the chip
            n_weights = getattr(block, "stored_weights", None)
            if n_weights is None:
                n_weights = sum(p.numel() for p in layer.parameters())
            active = _active_fraction(block)
            out_per_sample = output[0].numel() * active[0] // active[1]
            traffic = n_weights * getattr(block, "weight_bits", mem.bits("weight"))
            analog = not self.spiking or getattr(block, "analog_input", False)
            if analog:
                self._add(part, "macs", _layer_macs(layer, output) * active[0] // active[1], n)
                traffic += x[0].numel() * mem.bits("activation")
            else:
                key = (id(block), tuple(x.shape[1:]))
                if key not in self._fanouts:
                    self._fanouts[key] = _block_fanout(block, tuple(x.shape[1:])) * active[0] // active[1]
                spikes = x.detach() != 0
                self._add(part, "synaptic_ops", synaptic_ops(spikes, self._fanouts[key]), n)
                in_spikes = spikes.flatten(1).sum(1).to(torch.int64)
                self._add(part, "mem_bytes", in_spikes * mem.bits("spike"), n)
            if self.spiking:
                self._add(part, "lif_ops", 2 * out_per_sample, n)
                traffic += 2 * out_per_sample * mem.bits("membrane")
            else:
                traffic += out_per_sample * mem.bits("activation")
            self._add(part, "mem_bytes", traffic, n)

        return hook

    def _activation_hook(self, part: int) -> Any:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if not self.spiking:
                return
            n = output.shape[0]
            emitted = (output.detach() != 0).flatten(1).sum(1).to(torch.int64)
            self._add(part, "spikes", emitted, n)
            self._add(part, "mem_bytes", emitted * self.memory.bits("spike"), n)

        return hook

    # ---------------------------------------------------------------- results
    def _require(self) -> Tensor:
        if self._parts is None:
            raise RuntimeError("no counts yet: run the network inside the OpCounter block first")
        return self._parts

    def part_counts(self) -> NDArray[np.int64]:
        """Raw counts per part ``(N, 2E-1, K)``: backbone segments 0..E-1, then heads 0..E-2."""
        return _bytes(self._require())

    def exit_counts(self) -> NDArray[np.int64]:
        """Cumulative counts to reach each exit, ``(N, E, K)`` int64.

        Exit ``e`` costs backbone segments ``0..e`` plus heads ``0..min(e, E-2)``.
        """
        parts = self._require()
        e = self.n_exits
        backbone = parts[:, :e].cumsum(1)
        heads = parts[:, e:].cumsum(1)
        total = backbone.clone()
        total[:, : e - 1] += heads
        total[:, e - 1] += heads[:, -1] if e > 1 else 0
        return _bytes(total)

    def block_counts(self) -> NDArray[np.int64]:
        """Counts of the backbone up to each exit's tap point, ``(N, E, K)`` int64, no head.

        Entry ``e`` is backbone segments ``0..e``: every backbone layer and neuron
        up to the tap of exit ``e``; for the final exit the whole plain network.
        """
        return _bytes(self._require()[:, : self.n_exits].cumsum(1))

    def head_counts(self) -> NDArray[np.int64]:
        """Counts of each exit head alone, ``(N, E, K)`` int64; 0 for the final exit.

        The final exit's layers are the backbone's (in :meth:`block_counts`).
        ``exit_counts()[:, e] == block_counts()[:, e] + head_counts()[:, :e + 1].sum(1)``.
        """
        parts = self._require()
        heads = torch.zeros_like(parts[:, : self.n_exits])
        heads[:, : self.n_exits - 1] = parts[:, self.n_exits:]
        return _bytes(heads)

    def full_counts(self) -> NDArray[np.int64]:
        """Counts of the plain network without heads, ``(N, K)`` int64."""
        return _bytes(self._require()[:, : self.n_exits].sum(1))


@torch.no_grad()
def count_ann(network: nn.Module, x: Tensor,
              memory: MemoryModel | None = None) -> tuple[list[Tensor], NDArray[np.int64],
                                                        NDArray[np.int64]]:
    """Run the dynamic ANN on ``x`` (eval mode) and count its operations.

    Returns the per-exit logits, the cumulative per-exit counts ``(N, E, K)``
    and the plain-network counts ``(N, K)`` (the backbone's parts only).
    """
    was_training = network.training
    network.eval()
    with OpCounter(network, spiking=False, memory=memory) as counter:
        logits = network(x)
    network.train(was_training)
    return logits, counter.exit_counts(), counter.full_counts()
