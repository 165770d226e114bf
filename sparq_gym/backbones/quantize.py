"""INT8 quantization-aware training of the converted network and export of the INT8 weights.

Which QAT
    PyTorch's eager-mode QAT machinery from ``torch.ao.quantization``, with the
    FBGEMM backend's QAT settings and MinMax observers as in the paper:
    weights are fake-quantized per output channel, symmetric, to ``qint8``
    ``[-128, 127]`` with a :class:`~torch.ao.quantization.MovingAveragePerChannelMinMaxObserver`
    (exactly FBGEMM's default QAT weight qconfig); the analog input of the
    first layer is fake-quantized per tensor to ``quint8`` ``[0, 255]`` with a
    :class:`~torch.ao.quantization.MovingAverageMinMaxObserver`. We use the
    ``FakeQuantize`` modules directly instead of ``prepare_qat``/``convert``
    because the deployed network is not the ANN that ``convert`` would produce
    (FBGEMM quantized kernels) but the spiking network of
    :mod:`sparq_gym.backbones.spiking`, which needs only the integer weights
    and their scales; ``prepare_qat`` would also need quant/dequant stubs
    around the clip-floor-shift activations and every exit head. The newer
    successor (``torchao`` / PT2E export-based QAT) needs ``torch.export`` of
    the whole network and an extra dependency, and produces the same per-channel
    int8 weights for linear and conv layers, so it would add nothing here.
    Differences from FBGEMM's qconfig, on purpose: the input uses the full
    ``[0, 255]`` range (``reduce_range`` only avoids int16 overflow inside
    FBGEMM's kernels, which are not used); the hidden activations are not
    8-bit fake-quantized because they are the clip-floor-shift activations,
    whose ``L + 1`` levels become the spikes of the converted network.

Recipe
    BatchNorm is folded into the weights first (eval statistics; the QAT
    network has no BatchNorm), because the spiking network computes with the
    folded weights, so those are the ones that must be quantized. The network
    is then fine-tuned with Adam, a cosine schedule from ``lr`` and mixup, all
    exits jointly with the training loss weights, keeping the clip-floor-shift
    activations (their clips stay learnable: they are the neurons' thresholds).
    The observers update during the first ``observe_fraction`` of the steps and
    are then frozen, so the last steps train against the scales that are
    exported. Export rounds each folded weight with its channel's scale exactly
    like the fake-quantizer (``clamp(round(w / s), -128, 127)``); biases stay
    float32 (FBGEMM also keeps float biases and quantizes them on the fly).
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparq_gym.backbones.layers import SynapseBlock
from sparq_gym.backbones.loop import EpochLoop, LoopSettings, TrainData, count_steps
from sparq_gym.backbones.model import ExitNetwork
from sparq_gym.backbones.spec import LayerSpec
from sparq_gym.backbones.spiking import (
    LayerWeights,
    SpikingWeights,
    activation_keys,
    fold_batch_norm,
    layer_keys,
)
from sparq_gym.io import atomic_write_json

__all__ = [
    "QATConfig",
    "QuantizedSynapse",
    "export_int8",
    "prepare_qat",
    "run_qat",
]

QAT_CHECKPOINT = "qat_checkpoint.pt"


@dataclass
class QATConfig:
    """Settings of the quantization-aware fine-tuning.

    :param epochs: fine-tuning epochs over the ``fit`` split.
    :param lr: initial Adam learning rate (cosine-annealed to 0); a tenth of
        the training rate, since this only adapts a trained network.
    :param mixup_alpha: mixup parameter, as in training (paper: 0.2).
    :param batch_size: batch size (None: the backbone's).
    :param observe_fraction: fraction of the steps during which the observers
        update; afterwards the scales are frozen.
    :param max_steps_per_epoch: cap on steps per epoch (smoke runs).
    :param seed: seeds shuffling, augmentation and mixup.
    :param progress: show a tqdm progress bar.
    """

    epochs: int = 2
    lr: float = 1e-4
    mixup_alpha: float = 0.2
    batch_size: int | None = None
    observe_fraction: float = 0.5
    max_steps_per_epoch: int | None = None
    seed: int = 0
    progress: bool = True


def _weight_fake_quant() -> nn.Module:
    from torch.ao.quantization import FakeQuantize, MovingAveragePerChannelMinMaxObserver

    return FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)


def _input_fake_quant() -> nn.Module:
    from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver

    return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                        dtype=torch.quint8, qscheme=torch.per_tensor_affine)


class QuantizedSynapse(nn.Module):
    """A synapse layer with BatchNorm folded and fake-quantized INT8 weights (QAT).

    :param block: the trained ANN block (its BatchNorm is folded into the weights).

    ``weight_fake_quant`` quantizes the weight per output channel; an analog
    input layer also has ``input_fake_quant`` (8-bit unsigned, per tensor).
    Shapes: as :class:`~sparq_gym.backbones.layers.SynapseBlock`.
    """

    def __init__(self, block: SynapseBlock) -> None:
        super().__init__()
        self.spec: LayerSpec = block.spec
        self.analog_input = block.analog_input
        weight, bias = fold_batch_norm(block)
        self.pool: nn.Module | None = (nn.AvgPool2d(self.spec.pool_before)
                                       if self.spec.pool_before > 1 else None)
        self.layer = copy.deepcopy(block.layer).float()
        self.layer.weight = nn.Parameter(weight)
        self.layer.bias = nn.Parameter(bias)
        self.weight_fake_quant = _weight_fake_quant()
        self.input_fake_quant = _input_fake_quant() if self.analog_input else None

    def forward(self, x: Tensor) -> Tensor:
        """Pool, flatten, (fake-quantize the input), apply the fake-quantized layer."""
        if self.input_fake_quant is not None:
            x = self.input_fake_quant(x)
        if self.pool is not None:
            x = self.pool(x)
        if self.spec.flatten_before:
            x = torch.flatten(x, 1)
        weight = self.weight_fake_quant(self.layer.weight)
        if isinstance(self.layer, nn.Conv2d):
            return F.conv2d(x, weight, self.layer.bias, self.layer.stride, self.layer.padding)
        return F.linear(x, weight, self.layer.bias)


def prepare_qat(network: ExitNetwork) -> ExitNetwork:
    """Return a copy of ``network`` whose synapse layers are :class:`QuantizedSynapse` modules.

    The copy keeps the exit heads and the clip-floor-shift activations (with
    their learned clips) and runs with the usual
    :meth:`~sparq_gym.backbones.model.ExitNetwork.forward`; ``network`` itself
    is not changed.
    """
    qat = copy.deepcopy(network).float()
    for i, block in enumerate(qat.blocks):
        qat.blocks[i] = QuantizedSynapse(block)
    for head in qat.heads:
        for j, block in enumerate(head.blocks):
            head.blocks[j] = QuantizedSynapse(block)
    return qat


def _set_observers(network: nn.Module, enabled: bool) -> None:
    from torch.ao.quantization import FakeQuantize

    for module in network.modules():
        if isinstance(module, FakeQuantize):
            if enabled:
                module.enable_observer()
            else:
                module.disable_observer()


def export_int8(qat_network: ExitNetwork, mean: tuple[float, ...], std: tuple[float, ...],
                provenance: dict[str, Any] | None = None) -> SpikingWeights:
    """Export the INT8 weights, per-channel scales, folded biases and thresholds of a QAT network.

    Each weight is rounded with its fake-quantizer's current scale:
    ``q = clamp(round(w / s), -128, 127)`` (zero point 0, symmetric), stored as
    int8; the input quantizer's scale and zero point are stored for the first
    layer. The result builds the QSNN/QDSNN with
    :class:`~sparq_gym.backbones.spiking.SpikingNetwork`.
    """
    spec = qat_network.spec
    modules = dict(qat_network.named_modules())
    layers: dict[str, LayerWeights] = {}
    for key in layer_keys(spec):
        block = modules[key]
        if not isinstance(block, QuantizedSynapse):
            raise TypeError(f"{key}: expected a QuantizedSynapse (run prepare_qat first)")
        fq = block.weight_fake_quant
        scale = fq.scale.detach().float()
        if not bool(torch.all(fq.zero_point == 0)):
            raise ValueError(f"{key}: symmetric weight quantization must have zero point 0")
        weight = block.layer.weight.detach().float()
        view = (-1,) + (1,) * (weight.dim() - 1)
        q = torch.clamp(torch.round(weight / scale.view(view)), -128, 127).to(torch.int8)
        layers[key] = LayerWeights(q.numpy(), block.layer.bias.detach().float().numpy(),
                                   scale.numpy().astype(np.float32))
    thresholds = {key: float(modules[key].clip.detach()) for key in activation_keys(spec)}
    first = modules["blocks.0"]
    assert isinstance(first, QuantizedSynapse) and first.input_fake_quant is not None
    input_scale = float(first.input_fake_quant.scale.item())
    input_zero_point = int(first.input_fake_quant.zero_point.item())
    return SpikingWeights(spec=spec, precision="int8", layers=layers, thresholds=thresholds,
                          mean=tuple(mean), std=tuple(std), input_scale=input_scale,
                          input_zero_point=input_zero_point, provenance=dict(provenance or {}))


def _state_fingerprint(network: torch.nn.Module) -> str:
    """sha256 over the names and bytes of every parameter and buffer of ``network``."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_qat(network: ExitNetwork, config: QATConfig, data: TrainData, out_dir: str | Path,
            resume: bool = True) -> tuple[ExitNetwork, dict[str, Any]]:
    """Fine-tune ``network`` with fake-quantized INT8 weights; return the QAT network and its log.

    ``data`` is a :class:`~sparq_gym.backbones.loop.TrainData` (``fit`` images
    for training; its ``eval_sets`` are measured after every epoch); the epochs
    run in the training loop :class:`~sparq_gym.backbones.loop.EpochLoop`. A
    checkpoint (model, optimizer, RNG states, epoch, log) is written atomically
    to ``out_dir/qat_checkpoint.pt`` after every epoch; with ``resume`` an
    interrupted run continues from it. The returned log holds per-epoch loss,
    accuracy per exit of the fake-quantized ANN and wall times.
    """
    spec = network.spec
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    batch_size = config.batch_size or spec.batch_size
    n_fit = len(data.fit_labels)
    steps_per_epoch = count_steps(n_fit, batch_size, config.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"QAT needs at least one batch of {batch_size} images, got {n_fit}")
    total_steps = config.epochs * steps_per_epoch
    observe_steps = math.ceil(config.observe_fraction * total_steps)

    source = _state_fingerprint(network)  # which trained ANN this QAT run starts from
    qat = prepare_qat(network)
    if spec.channels_last:
        qat = qat.to(memory_format=torch.channels_last)
    settings = LoopSettings(epochs=config.epochs, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                            lr=config.lr, mixup_alpha=config.mixup_alpha, seed=config.seed,
                            progress=config.progress, label="QAT epoch", log_throughput=False)
    loop = EpochLoop(qat, qat.parameters(), data, settings,
                     before_step=lambda step: _set_observers(qat, step < observe_steps),
                     after_steps=lambda: _set_observers(qat, False))
    ckpt_path = out / QAT_CHECKPOINT
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state["config"] != asdict(config):
            raise ValueError(f"{ckpt_path}: written with QAT config {state['config']}, "
                             f"not {asdict(config)}; remove it or use the same settings")
        if state.get("source") != source:
            raise ValueError(f"{ckpt_path}: a QAT run of other starting weights (fingerprint "
                             f"{str(state.get('source'))[:12]}..., now {source[:12]}...); remove it")
        loop.restore(state)  # observers hold their ranges as buffers: the state dict restores them too
    loop.run(ckpt_path, {"config": asdict(config), "source": source},
             lambda log: atomic_write_json(out / "qat_log.json", log))
    _set_observers(qat, False)
    return qat.eval(), {"epochs": loop.log, "config": asdict(config), "steps_per_epoch": steps_per_epoch}
