"""The ANN and the dynamic ANN (ANN + exit heads) built from a :class:`BackboneSpec`.

:class:`ExitNetwork` holds the backbone's synapse layers (``blocks``), one
activation per layer but the last (``activations``) and one
:class:`ExitHead` per early exit (``heads``). ``forward(x)`` returns the logits
of every exit in order (the dynamic ANN); ``forward(x, with_exits=False)``
returns only the final logits (the plain ANN; the heads are not evaluated).
The conversion stage replaces the entries of ``activations`` (and of each
head's ``activations``) with spiking neurons and keeps everything else; the
operation counters of :mod:`sparq_gym.traces.counters` rely only on these attributes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sparq_gym.backbones.layers import ClipFloorShift, SynapseBlock
from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec

__all__ = ["ExitHead", "ExitNetwork", "build_network", "init_parameters", "run_layers", "run_with_exits"]


def _stack(layers: tuple[LayerSpec, ...], levels: int, clip_init: float,
           first_analog: bool) -> tuple[nn.ModuleList, nn.ModuleList]:
    blocks = nn.ModuleList(
        SynapseBlock(layer, analog_input=first_analog and i == 0) for i, layer in enumerate(layers)
    )
    activations = nn.ModuleList(ClipFloorShift(levels, clip_init) for _ in layers[:-1])
    return blocks, activations


class ExitHead(nn.Module):
    """An early-exit head: hidden synapse layer(s) with activations, then a classifier.

    :param spec: the exit description.
    :param levels: activation levels ``L``.
    :param clip_init: initial activation clip.
    """

    def __init__(self, spec: ExitSpec, levels: int, clip_init: float) -> None:
        super().__init__()
        self.spec = spec
        self.blocks, self.activations = _stack(spec.layers, levels, clip_init, first_analog=False)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, num_classes)`` from the backbone features ``x``."""
        return run_layers(self.blocks, self.activations, x)


class ExitNetwork(nn.Module):
    """Backbone with early-exit heads (the dynamic ANN; the plain ANN without heads).

    :param spec: the backbone description.

    Shapes: input ``(N, *spec.input_shape)`` normalized floats; output a list of
    ``spec.n_exits`` logit tensors ``(N, num_classes)``, the final head last.
    """

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        self.spec = spec
        self.blocks, self.activations = _stack(spec.layers, spec.levels, spec.clip_init,
                                               first_analog=True)
        self.heads = nn.ModuleList(ExitHead(e, spec.levels, spec.clip_init) for e in spec.exits)
        self.exit_after: tuple[int, ...] = tuple(e.after for e in spec.exits)

    def forward(self, x: Tensor, with_exits: bool = True) -> list[Tensor]:
        """Run the backbone; evaluate each head where its exit sits when ``with_exits``."""
        return run_with_exits(self, x, with_exits)


def run_layers(blocks: nn.ModuleList, activations: nn.ModuleList, x: Tensor) -> Tensor:
    """Run a chain without exits: synapse block i, then activation i for every block but the last.

    Shared by the ANN's exit heads (:class:`ExitHead`) and their spiking
    conversion, where ``activations`` are spiking neurons and ``x`` one
    timestep's spikes. Returns the last block's output (logits or current).
    """
    for i, block in enumerate(blocks):
        x = block(x)
        if i < len(activations):
            x = activations[i](x)
    return x


def run_with_exits(network: nn.Module, x: Tensor, with_exits: bool = True) -> list[Tensor]:
    """One pass through a network laid out as ``blocks`` / ``activations`` / ``heads`` / ``exit_after``.

    Shared by the ANN (:class:`ExitNetwork`) and, one timestep at a time, its
    spiking conversion: synapse block i, then activation i (all but the last
    block), and head k right after block ``exit_after[k]`` when ``with_exits``.
    Returns the outputs of every exit evaluated, the final one last.
    """
    blocks, activations, heads = network.blocks, network.activations, network.heads
    exit_after: tuple[int, ...] = network.exit_after  # type: ignore[assignment]
    outputs: list[Tensor] = []
    head = 0
    for i, block in enumerate(blocks):
        x = block(x)
        if i < len(activations):
            x = activations[i](x)
        if with_exits and head < len(heads) and exit_after[head] == i:
            outputs.append(heads[head](x))
            head += 1
    outputs.append(x)
    return outputs


def init_parameters(network: nn.Module, generator: torch.Generator) -> None:
    """Re-initialize every conv/linear weight and bias of ``network`` from ``generator``.

    Weights use Kaiming-normal (fan-in, ReLU gain), biases zero, so the
    initialization depends only on the generator's seed and never on the global
    RNG. BatchNorm and activation clips keep their constructor values.
    """
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
                if module.bias is not None:
                    module.bias.zero_()


def build_network(spec: BackboneSpec, seed: int = 0) -> ExitNetwork:
    """Build the dynamic ANN of ``spec`` with weights drawn from a generator seeded by ``seed``."""
    network = ExitNetwork(spec)
    init_parameters(network, torch.Generator().manual_seed(seed))
    return network
