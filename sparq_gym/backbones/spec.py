"""One description per backbone: the layers, the exit heads and the training defaults.

A :class:`BackboneSpec` is plain data (frozen dataclasses, JSON-able through
:meth:`BackboneSpec.to_dict`). Every network variant is built from it: the ANN
and the dynamic ANN (:mod:`sparq_gym.backbones.model`) here, and the spiking
variants (SNN T=32, QSNN/QDSNN T=4 INT8) in the conversion stage, which swap
the activation modules for LIF neurons and keep the synapse layers.

Layer order inside one synapse layer (:class:`LayerSpec`)::

    avg-pool (optional, kernel = stride) -> flatten (optional) -> conv / linear -> BatchNorm

and every layer but the last of the backbone and of each head is followed by a
clip-floor-shift activation (the spiking neuron after conversion). Pooling is
average pooling placed *before* the next synapse layer, i.e. after the
activation of the previous one; it is linear, so it converts to the spiking
network exactly (a spike entering a pool window adds ``1/k^2`` to the pooled
input), whereas max-pooling over spikes is not the max of the rates.

Shapes and operation counts are computed from the description alone
(:func:`layer_shapes`, :func:`network_stats`); :mod:`sparq_gym.traces.counters` measures the
same numbers with hooks on a built network, and the tests check both against
the paper's numbers (AlexNet 200,515,584 MACs and 180,234 neurons; MLP 574,080
MACs; LeNet 416,520 MACs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "BACKBONES",
    "EXIT_WEIGHTS",
    "BackboneSpec",
    "ExitSpec",
    "LayerSpec",
    "get_spec",
    "layer_shapes",
    "network_stats",
]

EXIT_WEIGHTS = ("uniform", "backbone")
"""How a fine-tuning may average its exits' loss terms: equally, or with :attr:`BackboneSpec.loss_weights`."""


@dataclass(frozen=True)
class LayerSpec:
    """One synapse layer: optional avg-pool and flatten, then conv or linear, then BatchNorm.

    :param kind: ``"conv"`` (2-D convolution, square kernel) or ``"linear"``.
    :param in_features: input channels (conv) or input features (linear).
    :param out_features: output channels (conv) or output features (linear).
    :param kernel_size: conv kernel side (ignored for linear).
    :param padding: conv zero padding on each side.
    :param stride: conv stride.
    :param pool_before: kernel (= stride) of the average pooling applied to the
        input first; 1 means no pooling.
    :param flatten_before: flatten ``(C, H, W)`` to ``C*H*W`` features first.
    :param batch_norm: a BatchNorm after the layer (folded into the weights at
        conversion). The output layer of the backbone and of a head has none.
    :param name: short name used in reports (``"conv1"``, ``"fc2"``, ...).
    """

    kind: Literal["conv", "linear"]
    in_features: int
    out_features: int
    kernel_size: int = 1
    padding: int = 0
    stride: int = 1
    pool_before: int = 1
    flatten_before: bool = False
    batch_norm: bool = True
    name: str = ""


@dataclass(frozen=True)
class ExitSpec:
    """An early-exit head: a small hidden layer with BatchNorm, then a classifier.

    :param after: index of the backbone layer whose activation output feeds the head.
    :param layers: the head's synapse layers (hidden conv or linear + classifier).
    :param loss_weight: weight of this head's loss in the joint training loss.
    :param name: exit name in traces and logs (``"exit1"``, ``"exit2"``).
    """

    after: int
    layers: tuple[LayerSpec, ...]
    loss_weight: float = 0.3
    name: str = ""


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone with its exits and training defaults.

    :param name: registry key (``"mlp"``, ``"lenet"``, ``"alexnet"``).
    :param dataset: dataset key of :mod:`sparq_gym.data` it is trained on.
    :param input_shape: ``(C, H, W)`` of one input image.
    :param num_classes: number of classes of every head.
    :param layers: backbone synapse layers, input to output.
    :param exits: early-exit heads ordered by position; the final head is the
        backbone's last layer and is not listed.
    :param levels: quantization levels ``L`` of the clip-floor-shift activation;
        ``L = 4`` is what ``T = 4`` timesteps of binary spikes can express.
    :param clip_init: initial value of every learnable clip (threshold).
    :param final_loss_weight: weight of the final head's loss.
    :param epochs: default number of training epochs.
    :param batch_size: default training batch size.
    :param augment_pad: random-crop padding of the training augmentation (0: none).
    :param augment_flip: random horizontal flips in the training augmentation.
    :param channels_last: train in channels-last memory format (faster convs on CPU).
    """

    name: str
    dataset: str
    input_shape: tuple[int, int, int]
    num_classes: int
    layers: tuple[LayerSpec, ...]
    exits: tuple[ExitSpec, ...]
    levels: int = 4
    clip_init: float = 2.0
    final_loss_weight: float = 1.0
    epochs: int = 20
    batch_size: int = 128
    augment_pad: int = 0
    augment_flip: bool = False
    channels_last: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        afters = [e.after for e in self.exits]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError(f"exits of {self.name!r} must have strictly increasing 'after', got {afters}")
        if afters and not 0 <= afters[-1] < len(self.layers) - 1:
            raise ValueError(f"exit positions of {self.name!r} must lie in 0..{len(self.layers) - 2}")

    @property
    def n_exits(self) -> int:
        """Number of exits, the final head included."""
        return len(self.exits) + 1

    @property
    def exit_names(self) -> tuple[str, ...]:
        """Exit names in order, ending with ``"final"``."""
        return (*(e.name or f"exit{k + 1}" for k, e in enumerate(self.exits)), "final")

    @property
    def loss_weights(self) -> tuple[float, ...]:
        """Loss weight of every exit in order, the final head last."""
        return (*(e.loss_weight for e in self.exits), self.final_loss_weight)

    def to_dict(self) -> dict[str, Any]:
        """Return the description as JSON-able nested dicts and lists."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackboneSpec:
        """Rebuild a description written by :meth:`to_dict` (e.g. from a checkpoint)."""
        data = dict(data)
        data["input_shape"] = tuple(data["input_shape"])
        data["layers"] = tuple(LayerSpec(**layer) for layer in data["layers"])
        data["exits"] = tuple(
            ExitSpec(**{**e, "layers": tuple(LayerSpec(**layer) for layer in e["layers"])})
            for e in data["exits"]
        )
        return cls(**data)


def _conv(cin: int, cout: int, k: int, pad: int, name: str, pool: int = 1) -> LayerSpec:
    return LayerSpec("conv", cin, cout, kernel_size=k, padding=pad, pool_before=pool, name=name)


def _fc(fin: int, fout: int, name: str, *, pool: int = 1, flatten: bool = False,
        bn: bool = True) -> LayerSpec:
    return LayerSpec("linear", fin, fout, pool_before=pool, flatten_before=flatten,
                     batch_norm=bn, name=name)


def _fc_exit(number: int, after: int, features: int, hidden: int) -> ExitSpec:
    """Exit ``number`` after backbone layer ``after``: a hidden linear layer (BN), a classifier."""
    return ExitSpec(after, (_fc(features, hidden, f"head{number}.fc"),
                            _fc(hidden, 10, f"head{number}.out", bn=False)), name=f"exit{number}")


def _conv_exit(number: int, after: int, channels: int, hidden: int, pool: int, features: int,
               out_pool: int = 1) -> ExitSpec:
    """Exit ``number``: avg-pool, 3x3 conv (BN) to ``hidden`` channels, avg-pool, flatten, classifier."""
    return ExitSpec(after, (_conv(channels, hidden, 3, 1, f"head{number}.conv", pool=pool),
                            _fc(features, 10, f"head{number}.out", pool=out_pool, flatten=True,
                                bn=False)), name=f"exit{number}")


MLP = BackboneSpec(
    name="mlp", dataset="mnist", input_shape=(1, 28, 28), num_classes=10,
    layers=(
        _fc(784, 512, "fc1", flatten=True),
        _fc(512, 256, "fc2"),
        _fc(256, 128, "fc3"),
        _fc(128, 64, "fc4"),
        _fc(64, 10, "fc5", bn=False),
    ),
    # Exits after fc1 and fc2: fc1 alone holds 70 % of the MACs, so these are
    # the only positions that can save anything; each head is a 32-unit hidden
    # layer (BN + activation) and a classifier (~3 % / ~1.5 % of the MACs).
    exits=(_fc_exit(1, 0, 512, 32), _fc_exit(2, 1, 256, 32)),
    epochs=20, batch_size=128,
)
"""MLP-5 on MNIST: 784-512-256-128-64-10 (574,080 MACs)."""

LENET = BackboneSpec(
    name="lenet", dataset="mnist", input_shape=(1, 28, 28), num_classes=10,
    layers=(
        _conv(1, 6, 5, 2, "conv1"),
        _conv(6, 16, 5, 0, "conv2", pool=2),
        _fc(400, 120, "fc1", pool=2, flatten=True),
        _fc(120, 84, "fc2"),
        _fc(84, 10, "fc3", bn=False),
    ),
    # Exits after conv1 (6x28x28) and conv2 (16x10x10), mirroring AlexNet's
    # exits after convolutions (the convs hold 85 % of the MACs). Heads:
    # avg-pool, a conv to 8 channels with BN, then a linear classifier.
    exits=(
        _conv_exit(1, 0, 6, 8, pool=4, features=392),
        _conv_exit(2, 1, 16, 8, pool=2, features=200),
    ),
    # 40 epochs, chosen on the hold-out (never on test): the final head reaches 99.02 % there
    # after 20 epochs and 99.24 % after 40.
    epochs=40, batch_size=128, augment_pad=2,
)
"""LeNet-5 on MNIST: conv(1->6,k5,p2) pool conv(6->16,k5) pool fc400-120-84-10 (416,520 MACs)."""

ALEXNET = BackboneSpec(
    name="alexnet", dataset="cifar10", input_shape=(3, 32, 32), num_classes=10,
    layers=(
        _conv(3, 64, 3, 1, "conv1"),
        _conv(64, 192, 3, 1, "conv2", pool=2),
        _conv(192, 384, 3, 1, "conv3", pool=2),
        _conv(384, 256, 3, 1, "conv4"),
        _conv(256, 256, 3, 1, "conv5"),
        _fc(4096, 4096, "fc1", pool=2, flatten=True),
        _fc(4096, 4096, "fc2"),
        _fc(4096, 10, "fc3", bn=False),
    ),
    # Exits after conv1 and conv3 (paper). Heads: avg-pool 2, a 3x3 conv with
    # BN, avg-pool, linear classifier; 4.7M + 7.1M MACs (2.4 % + 3.5 % of the
    # backbone's 200.5M).
    exits=(
        _conv_exit(1, 0, 64, 32, pool=2, features=512, out_pool=4),
        _conv_exit(2, 2, 384, 128, pool=2, features=512, out_pool=2),
    ),
    # 16 epochs: about 2 h 10 min at ~116 img/s (2 cores, float32, channels-last).
    # The shipped ANN adds two warm restarts, 6 and 12 epochs (docs/backbones.md).
    epochs=16,
    batch_size=128,
    augment_pad=4,
    augment_flip=True,
    channels_last=True,
)
"""AlexNet for 32x32 CIFAR-10 (spec §2): 200,515,584 MACs, 180,234 neurons."""

BACKBONES: dict[str, BackboneSpec] = {s.name: s for s in (MLP, LENET, ALEXNET)}
"""Registered backbones by name."""


def get_spec(name: str) -> BackboneSpec:
    """Return the registered description of backbone ``name`` (case-insensitive)."""
    key = name.lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[key]


Shape = tuple[int, ...]


def layer_shapes(layers: tuple[LayerSpec, ...], input_shape: Shape) -> list[tuple[Shape, Shape]]:
    """Propagate a per-sample shape through ``layers``; return ``(input, output)`` per layer.

    The input shape is the one the layer receives before its own pooling and
    flattening, i.e. the output of the previous layer's activation. Raises
    ``ValueError`` when a pool does not divide the map or a linear layer's
    ``in_features`` disagrees with the incoming size.
    """
    shapes: list[tuple[Shape, Shape]] = []
    shape: Shape = tuple(input_shape)
    for layer in layers:
        inp = shape
        if layer.pool_before > 1:
            c, h, w = shape
            k = layer.pool_before
            if h % k or w % k:
                raise ValueError(f"{layer.name}: pool {k} does not divide the {h}x{w} map")
            shape = (c, h // k, w // k)
        if layer.flatten_before:
            shape = (_numel(shape),)
        if layer.kind == "conv":
            c, h, w = shape
            if c != layer.in_features:
                raise ValueError(f"{layer.name}: expected {layer.in_features} channels, got {c}")
            k, p, s = layer.kernel_size, layer.padding, layer.stride
            shape = (layer.out_features, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        else:
            if shape != (layer.in_features,):
                raise ValueError(f"{layer.name}: expected ({layer.in_features},) input, got {shape}")
            shape = (layer.out_features,)
        shapes.append((inp, shape))
    return shapes


def _macs(layer: LayerSpec, out_shape: Shape) -> int:
    size = _numel(out_shape)
    if layer.kind == "conv":
        return size * layer.in_features * layer.kernel_size**2
    return layer.in_features * layer.out_features


def _numel(shape: Shape) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size


def network_stats(spec: BackboneSpec) -> dict[str, Any]:
    """Static operation counts of ``spec`` computed from the description alone.

    MACs of a conv layer = output elements x ``in_channels`` x ``k^2``; of a
    linear layer = ``in x out`` (BatchNorm is folded, pooling is not counted).
    ``neurons`` counts the outputs of every synapse layer of the plain backbone,
    the 10 output units included, since each becomes a LIF neuron after
    conversion. For AlexNet: 64*32*32 + 192*16*16 + 384*8*8 + 256*8*8 + 256*8*8
    + 4096 + 4096 + 10 = 65,536 + 49,152 + 24,576 + 16,384 + 16,384 + 4,096 +
    4,096 + 10 = 180,234 (the paper's number), so LIF ops = 180,234 x T x 2 =
    11,534,976 at T=32 and 1,441,872 at T=4. ``exits`` gives, per exit, the
    cumulative MACs and neurons of the path to it (backbone up to the exit plus
    every head evaluated on the way).
    """
    shapes = layer_shapes(spec.layers, spec.input_shape)
    layer_rows = [
        {"name": layer.name, "input": list(inp), "output": list(out),
         "macs": _macs(layer, out), "neurons": _numel(out)}
        for layer, (inp, out) in zip(spec.layers, shapes, strict=True)
    ]
    head_rows = []
    for ex in spec.exits:
        head_shapes = layer_shapes(ex.layers, shapes[ex.after][1])
        head_rows.append({
            "macs": sum(_macs(lay, out) for lay, (_, out) in zip(ex.layers, head_shapes, strict=True)),
            "neurons": sum(_numel(out) for _, out in head_shapes),
        })
    macs = sum(r["macs"] for r in layer_rows)
    neurons = sum(r["neurons"] for r in layer_rows)
    exits = []
    afters = [*(e.after for e in spec.exits), len(spec.layers) - 1]
    for k, (name, after) in enumerate(zip(spec.exit_names, afters, strict=True)):
        backbone = layer_rows[: after + 1]
        heads = head_rows[: min(k + 1, len(head_rows))]
        exits.append({
            "name": name,
            "after": spec.layers[after].name,
            "macs": sum(r["macs"] for r in backbone) + sum(h["macs"] for h in heads),
            "neurons": sum(r["neurons"] for r in backbone) + sum(h["neurons"] for h in heads),
            "head_macs": head_rows[k]["macs"] if k < len(head_rows) else 0,
        })
    return {
        "backbone": spec.name,
        "dataset": spec.dataset,
        "macs": macs,
        "neurons": neurons,
        "lif_ops_t4": neurons * 4 * 2,
        "lif_ops_t32": neurons * 32 * 2,
        "exits": exits,
        "layers": layer_rows,
    }
