"""SpQuant-SNN (seed 002) from the INT8 QSNN: integer membrane, channel pruning, learned thresholds.

:func:`build_spquant` turns the shipped INT8 QSNN into the ``spquant`` network:

1. :class:`SpQuantNetwork`: the same layers and exits, weights fake-quantized
   to ``weight_bits`` (symmetric, per output channel, straight-through round),
   the input image quantized as the INT8 network does, every neuron an
   integer-membrane neuron (:mod:`~sparq_gym.backbones.spiking.integer_membrane`)
   with a learnable threshold per layer (initialised at the ANN's clip).
2. Spatial-channel pruning guided by membrane-potential statistics
   (:mod:`~sparq_gym.backbones.spiking.pruning`): the ``prune_fraction``
   (conv) or ``prune_fraction_linear`` (linear) channels of every neuron layer
   with the lowest mean non-negative membrane potential are removed, at once
   before fine-tuning (:func:`prune_by_membrane`, ``prune_ramp = 0``) or in
   ``prune_events`` steps over the first ``prune_ramp`` of it.
3. :func:`finetune`: surrogate-gradient training through the ``T`` timesteps
   (snntorch's fast-sigmoid surrogate for the spike, straight-through for
   the weight and membrane rounding: the "stacked" gradient), cross-entropy
   averaged over every exit, equally or with the ANN's exit weights
   (optionally mixed with distillation from the INT8 network's exact QNN
   twin, and a spike-rate penalty), Adam with cosine annealing, on training
   (``fit``) images only;
   checkpointed every ``checkpoint_every`` steps and resumable.
4. :meth:`SpQuantNetwork.export`: integer weights (values in ``[-q, q]``,
   ``q = 2**(weight_bits-1) - 1``, kept in int8 arrays), per-channel scales,
   the learned thresholds, the pruning masks and the neuron model as
   :class:`~sparq_gym.backbones.spiking.SpikingWeights`, which
   :class:`~sparq_gym.backbones.spiking.SpikingNetwork` runs with exact integer
   accumulators for extraction.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from sparq_gym.backbones.model import run_with_exits
from sparq_gym.backbones.spec import EXIT_WEIGHTS, LayerSpec
from sparq_gym.backbones.spiking.integer_membrane import integer_membrane_step
from sparq_gym.backbones.spiking.network import assemble, feeding_activation
from sparq_gym.backbones.spiking.pruning import GradualPruning, prune_by_membrane
from sparq_gym.backbones.spiking.weights import LayerWeights, SpikingWeights, activation_keys
from sparq_gym.data import normalize_pixels

__all__ = ["SpQuantConfig", "SpQuantNetwork", "build_spquant", "finetune", "prune_by_membrane"]


@dataclass(frozen=True)
class SpQuantConfig:
    """Settings of the ``spquant`` network and its fine-tuning (each field's docstring follows it)."""

    weight_bits: int = 4
    """Bits of the symmetric per-channel weights of linear layers (seed 002: 4): nearly all weights."""
    conv_weight_bits: int = 8
    """The same for convolutions (fewer weights, more sensitive: ``docs/backbones.md``)."""
    membrane_bits: int = 5
    """Bits of the signed integer membrane potential."""
    steps: int | None = 8
    """Membrane units per threshold (None: the backbone's quantization levels ``L``)."""
    timesteps: int = 4
    """``T``."""
    prune_fraction: float = 0.25
    """Fraction of the channels removed from every conv neuron layer."""
    prune_fraction_linear: float = 0.5
    """Fraction of the units removed from every linear neuron layer."""
    stat_images: int = 512
    """Training images the statistics of a one-shot cut are taken on."""
    prune_ramp: float = 0.0
    """Share of the fine-tuning steps over which the cut is made in steps (0: one cut before it)."""
    prune_events: int = 10
    """Steps of a gradual cut (each on the statistics of the training batches since the last)."""
    train_images: int | None = None
    """Training images the fine-tuning sees (None: one epoch; more than the split: several
    epochs, each in a new order)."""
    batch_size: int = 64
    """Fine-tuning batch size."""
    lr: float = 1e-3
    """Adam learning rate of weights and biases (cosine-annealed to zero)."""
    threshold_lr: float = 1e-3
    """Adam learning rate of the thresholds."""
    surrogate_slope: float = 5.0
    """Slope of the fast-sigmoid surrogate (per membrane unit)."""
    spike_penalty: float = 0.0
    """Weight of the mean spike rate (over every neuron layer and timestep) added to the loss:
    an activity regulariser that trades accuracy for fewer spikes (0: off)."""
    distill: float = 0.0
    """Weight of distillation from the INT8 network's clip-floor-shift twin (the ``multilevel``
    network at T = 1, which computes it exactly): per exit the loss is ``(1 - distill) * CE +
    distill * tau^2 * KL(teacher || student)`` (0: plain cross-entropy)."""
    distill_temperature: float = 2.0
    """The distillation temperature ``tau``."""
    exit_weights: str = "uniform"
    """How the exits' loss terms are averaged: ``"uniform"`` (equal weights) or ``"backbone"``
    (the weights the ANN was trained with, ``spec.loss_weights``: 0.3 per early exit, 1 final)."""
    checkpoint_every: int = 50
    """Steps between checkpoints."""
    seed: int = 0
    """Seed of the image order."""

    def __post_init__(self) -> None:
        for name in ("weight_bits", "conv_weight_bits"):
            if not 2 <= getattr(self, name) <= 8:
                raise ValueError(f"{name} must be in 2..8, got {getattr(self, name)}")
        for name in ("prune_fraction", "prune_fraction_linear"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.exit_weights not in EXIT_WEIGHTS:
            raise ValueError(f"exit_weights must be one of {EXIT_WEIGHTS}, got {self.exit_weights!r}")
        if not 0.0 <= self.prune_ramp <= 1.0:
            raise ValueError(f"prune_ramp must be in [0, 1], got {self.prune_ramp}")
        if min(self.timesteps, self.batch_size, self.checkpoint_every, self.prune_events) < 1:
            raise ValueError("timesteps, batch_size, checkpoint_every and prune_events must be >= 1")

    def bits_of(self, kind: str) -> int:
        """Weight bits of a ``"conv"`` or ``"linear"`` layer."""
        return self.conv_weight_bits if kind == "conv" else self.weight_bits

    def prune_of(self, kind: str) -> float:
        """Pruned fraction of a ``"conv"`` or ``"linear"`` neuron layer."""
        return self.prune_fraction if kind == "conv" else self.prune_fraction_linear


def _fake_quant(weight: Tensor, bits: int) -> Tensor:
    """Symmetric per-output-channel fake quantization with a straight-through round."""
    q = 2 ** (bits - 1) - 1
    scale = weight.detach().abs().flatten(1).amax(1).clamp_min(1e-12) / q
    scale = scale.view(-1, *([1] * (weight.dim() - 1)))
    scaled = weight / scale
    rounded = torch.clamp(scaled + (torch.round(scaled) - scaled).detach(), -q, q)
    return rounded * scale


class _Synapse(nn.Module):
    """A trainable synapse layer: sum-pool, flatten, fake-quantized conv/linear, scale, bias, mask."""

    def __init__(self, spec: LayerSpec, weights: LayerWeights, bits: int, in_threshold: nn.Parameter | None,
                 input_quant: tuple[float, int] | None) -> None:
        super().__init__()
        self.spec = spec
        self.bits = bits
        shape = (-1, *([1] * (weights.weight.ndim - 1)))
        scale = np.asarray(weights.weight_scale, dtype=np.float32).reshape(shape)
        self.weight = nn.Parameter(torch.from_numpy(weights.weight.astype(np.float32) * scale))
        self.bias = nn.Parameter(torch.from_numpy(np.array(weights.bias, dtype=np.float32)))
        self.in_threshold = in_threshold
        self.input_quant = input_quant
        self.register_buffer("mask", torch.ones(spec.out_features))

    def forward(self, x: Tensor) -> Tensor:
        if self.input_quant is not None:  # the image, as 8-bit codes minus the zero point
            scale, zero = self.input_quant
            x = torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero
        k = self.spec.pool_before
        if k > 1:
            x = F.avg_pool2d(x, k, divisor_override=1)
        if self.spec.flatten_before:
            x = torch.flatten(x, 1)
        weight = _fake_quant(self.weight, self.bits)
        if self.spec.kind == "conv":
            acc = F.conv2d(x, weight, None, self.spec.stride, self.spec.padding)
        else:
            acc = F.linear(x, weight)
        unit = (self.input_quant[0] if self.input_quant is not None else self.in_threshold) / (k * k)
        shape = (1, -1) + (1,) * (acc.dim() - 2)
        return (acc * unit + self.bias.view(shape)) * self.mask.view(shape)


class _Neuron(nn.Module):
    """A trainable integer-membrane neuron layer with a learned threshold (and membrane statistics)."""

    def __init__(self, threshold: nn.Parameter, bits: int, steps: int, slope: float) -> None:
        super().__init__()
        from snntorch import surrogate

        self.threshold = threshold
        self.bits, self.steps = bits, steps
        self.spike_fn = surrogate.fast_sigmoid(slope=slope)
        self.mem: Tensor | None = None
        self.stats: Tensor | None = None  # summed pre-reset membrane per channel, when recording
        self.rates: list[Tensor] = []  # mean spike rate of each timestep, while training

    def forward(self, current: Tensor) -> Tensor:
        if self.mem is None:
            self.mem = torch.full_like(current, float(self.steps // 2))
        unit = self.threshold.clamp_min(1e-4) / self.steps
        spikes, self.mem = integer_membrane_step(self.mem, current, unit, self.steps, self.bits,
                                                 self.spike_fn if self.training else None)
        if self.training:
            self.rates.append(spikes.mean())
        if self.stats is not None:
            before = (self.mem + self.steps * spikes).detach()  # the potential that met the threshold
            dims = [0, *range(2, before.dim())]
            self.stats += before.clamp_min(0).mean(dim=dims)
        return spikes


class SpQuantNetwork(nn.Module):
    """The trainable ``spquant`` network built from INT8 QSNN weights (see the module docstring).

    Input: normalized images ``(N, *input_shape)``; output: every exit's mean
    output current over ``T`` (final last), as :class:`SpikingNetwork`.
    """

    def __init__(self, source: SpikingWeights, config: SpQuantConfig) -> None:
        super().__init__()
        if source.precision != "int8":
            raise ValueError(f"spquant starts from INT8 weights, got {source.precision!r}")
        spec = source.spec
        self.spec, self.source, self.config = spec, source, config
        self.steps = int(config.steps or spec.levels)
        self.timesteps = config.timesteps
        self.thresholds = nn.ParameterDict({key.replace(".", "_"): nn.Parameter(torch.tensor(float(value)))
                                            for key, value in source.thresholds.items()})

        def synapse(key: str, layer_spec: LayerSpec) -> _Synapse:
            feeding = feeding_activation(spec, key)
            quant = None if feeding else (float(source.input_scale), int(source.input_zero_point))  # type: ignore[arg-type]
            return _Synapse(layer_spec, source.layers[key], config.bits_of(layer_spec.kind),
                            self.threshold(feeding) if feeding else None, quant)

        def neuron(key: str) -> _Neuron:
            return _Neuron(self.threshold(key), config.membrane_bits, self.steps, config.surrogate_slope)

        assemble(self, spec, synapse, neuron)

    def threshold(self, key: str) -> nn.Parameter:
        """The learned threshold of activation ``key``."""
        return self.thresholds[key.replace(".", "_")]

    def neurons(self) -> dict[str, _Neuron]:
        """Every neuron layer by activation key."""
        return {name: m for name, m in self.named_modules() if isinstance(m, _Neuron)}

    def synapse_of(self, key: str) -> _Synapse:
        """The synapse layer feeding activation ``key``."""
        return dict(self.named_modules())[key.replace("activations", "blocks")]  # type: ignore[return-value]

    def spike_rate(self) -> Tensor:
        """Mean spike rate over the neuron layers and timesteps of the last training pass (then forgotten)."""
        rates = [torch.stack(n.rates).mean() for n in self.neurons().values() if n.rates]
        for neuron in self.neurons().values():
            neuron.rates = []
        return torch.stack(rates).mean() if rates else torch.zeros(())

    def forward(self, x: Tensor) -> list[Tensor]:
        for neuron in self.neurons().values():
            neuron.mem = None
            neuron.rates = []
        totals: list[Tensor] | None = None
        for _ in range(self.timesteps):
            outputs = run_with_exits(self, x)
            totals = outputs if totals is None else [a + b for a, b in zip(totals, outputs, strict=True)]
        assert totals is not None
        return [t / self.timesteps for t in totals]

    def export(self, provenance: dict[str, Any]) -> SpikingWeights:
        """The trained network as integer :class:`SpikingWeights` (pruned rows and columns zeroed)."""
        modules = dict(self.named_modules())
        masks = {key: self.synapse_of(key).mask.bool().numpy().copy() for key in activation_keys(self.spec)}
        layers: dict[str, LayerWeights] = {}
        for key in self.source.layers:
            block: _Synapse = modules[key]  # type: ignore[assignment]
            weight = block.weight.detach()
            q = 2 ** (block.bits - 1) - 1
            # the scale of the fake quantization trained with (pruned rows and columns included)
            scale = weight.abs().flatten(1).amax(1).clamp_min(1e-12) / q
            integer = torch.clamp(torch.round(weight / scale.view(-1, *([1] * (weight.dim() - 1)))), -q, q)
            out_mask = block.mask.bool()
            feeding = feeding_activation(self.spec, key)
            if feeding is not None and not masks[feeding].all():  # pruned inputs never send spikes
                in_mask = torch.from_numpy(masks[feeding])
                integer[:, ~in_mask.repeat_interleave(weight.shape[1] // len(in_mask))] = 0
            integer[~out_mask] = 0
            bias = torch.where(out_mask, block.bias.detach(), torch.zeros_like(block.bias))
            layers[key] = LayerWeights(integer.numpy().astype(np.int8), bias.numpy().astype(np.float32),
                                       scale.numpy().astype(np.float32))
        thresholds = {key: float(self.threshold(key).detach().clamp_min(1e-4))
                      for key in self.source.thresholds}
        return SpikingWeights(
            spec=self.spec, precision="int8", layers=layers, thresholds=thresholds, mean=self.source.mean,
            std=self.source.std, input_scale=self.source.input_scale,
            input_zero_point=self.source.input_zero_point, provenance=provenance,
            weight_bits={key: self.config.bits_of(block.spec.kind) for key, block in modules.items()
                         if isinstance(block, _Synapse) and self.config.bits_of(block.spec.kind) != 8},
            neuron={"kind": "integer_membrane", "membrane_bits": self.config.membrane_bits,
                    "steps": self.steps},
            active={key: mask for key, mask in masks.items() if not mask.all()},
        )


def _teacher(network: SpQuantNetwork) -> Any:
    """The distillation teacher: the source weights as a multi-level network at T = 1 (the exact QNN twin)."""
    from sparq_gym.backbones.spiking.network import SpikingNetwork

    teacher = SpikingNetwork(network.source, 1, spike_levels=network.spec.levels).eval()

    def outputs(x: Tensor) -> list[Tensor]:
        with torch.no_grad():
            return teacher(x)  # type: ignore[no-any-return]

    return outputs


def _loss(outputs: list[Tensor], y: Tensor, taught: list[Tensor] | None, cfg: SpQuantConfig,
          weights: tuple[float, ...] | None = None) -> Tensor:
    """Cross-entropy over the exits, mixed with distillation from ``taught`` when given.

    The exits' terms are averaged with ``weights`` (final last; None: equal weights).
    """
    total = torch.zeros(())
    tau = cfg.distill_temperature
    weights = weights or (1.0,) * len(outputs)
    for k, out in enumerate(outputs):
        term = F.cross_entropy(out, y)
        if taught is not None:
            soft = F.kl_div(F.log_softmax(out / tau, dim=1), F.softmax(taught[k] / tau, dim=1),
                            reduction="batchmean") * tau * tau
            term = (1.0 - cfg.distill) * term + cfg.distill * soft
        total = total + weights[k] * term
    return total / sum(weights)


def finetune(network: SpQuantNetwork, images: NDArray[np.uint8], labels: NDArray[np.integer[Any]],
             work_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Surrogate-gradient fine-tuning on ``images`` (training images); resumable from ``work_dir``.

    With ``prune_ramp > 0`` the network is cut in steps along the way
    (:class:`~sparq_gym.backbones.spiking.pruning.GradualPruning`). The
    checkpoint ``<work_dir>/spquant_checkpoint.pt`` holds the network (masks
    included), optimizer, step and the pruning statistics; a run with other
    settings starts over. Returns a log: steps, images seen, seconds, mean
    loss per 10 % of the run and, when cut in steps, the cuts.
    """
    cfg = network.config
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "spquant_checkpoint.pt"
    rng = np.random.default_rng(cfg.seed)
    total = images.shape[0] if cfg.train_images is None else cfg.train_images
    epochs = -(-total // images.shape[0])
    order = np.concatenate([rng.permutation(images.shape[0]) for _ in range(epochs)])[:total]
    n_steps = -(-total // cfg.batch_size)
    thresholds = list(network.thresholds.parameters())
    others = [p for name, p in network.named_parameters() if not name.startswith("thresholds.")]
    optimizer = torch.optim.Adam([{"params": others, "lr": cfg.lr},
                                  {"params": thresholds, "lr": cfg.threshold_lr}])
    schedule = torch.optim.lr_scheduler.LambdaLR(  # cosine annealing to zero over the run
        optimizer, lambda i: 0.5 * (1.0 + math.cos(math.pi * min(i, n_steps) / n_steps)))
    step, losses, seconds = 0, [], 0.0
    gradual = GradualPruning(network, n_steps) if cfg.prune_ramp > 0 else None
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=False)
        # a setting added since the checkpoint was written ran at its default (the old behaviour)
        saved = {**asdict(SpQuantConfig()), **state["config"]}
        if saved == asdict(cfg) and state["n_images"] == int(images.shape[0]):
            network.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            step, losses, seconds = state["step"], state["losses"], state["seconds"]
            if gradual is not None:
                gradual.load(state["pruning"])
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_steps, initial=step, desc="spquant fine-tune", unit="step", mininterval=30.0)
    mean, std = network.source.mean, network.source.std
    teacher = _teacher(network) if cfg.distill > 0 else None
    weights = network.spec.loss_weights if cfg.exit_weights == "backbone" else None
    network.train()
    t0 = time.perf_counter() - seconds
    while step < n_steps:
        take = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        x = normalize_pixels(torch.from_numpy(np.ascontiguousarray(images[take])), mean, std)
        y = torch.from_numpy(np.asarray(labels[take]).astype(np.int64))
        outputs = network(x)
        loss = _loss(outputs, y, teacher(x) if teacher is not None else None, cfg, weights)
        loss = loss + cfg.spike_penalty * network.spike_rate()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))  # type: ignore[union-attr]
        step += 1
        if gradual is not None:
            gradual.after_step(step)
        if bar is not None:
            bar.update(1)
        if step % cfg.checkpoint_every == 0 or step == n_steps:
            torch.save({"config": asdict(cfg), "n_images": int(images.shape[0]),
                        "model": network.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "step": step, "losses": losses,
                        "seconds": time.perf_counter() - t0,
                        "pruning": gradual.state() if gradual is not None else None}, path)
    if bar is not None:
        bar.close()
    network.eval()
    chunks = np.array_split(np.asarray(losses), min(10, len(losses))) if losses else []
    log = {"steps": step, "images": int(total), "seconds": round(time.perf_counter() - t0, 1),
           "loss_per_tenth": [round(float(c.mean()), 4) for c in chunks]}
    if gradual is not None:
        gradual.close()
        log.update(pruning=gradual.final, pruning_events=gradual.events)
    return log


def build_spquant(source: SpikingWeights, config: SpQuantConfig, fit_images: NDArray[np.uint8],
                  fit_labels: NDArray[np.integer[Any]], work_dir: str | Path, *,
                  progress: bool = True) -> tuple[SpikingWeights, dict[str, Any]]:
    """Prune, fine-tune and export the ``spquant`` network (module docstring); returns weights and a log."""
    network = SpQuantNetwork(source, config)
    t0 = time.perf_counter()
    pruning = prune_by_membrane(network, fit_images[:config.stat_images]) if config.prune_ramp == 0 else {}
    prune_seconds = time.perf_counter() - t0
    train_log = finetune(network, fit_images, fit_labels, work_dir, progress=progress)
    log = {"config": asdict(config), "steps_per_threshold": network.steps,
           "pruning": train_log.pop("pruning", pruning),
           "pruning_events": train_log.pop("pruning_events", []),
           "pruning_seconds": round(prune_seconds, 1), "finetune": train_log,
           "thresholds": {key: float(network.threshold(key).detach()) for key in source.thresholds}}
    weights = network.export({**source.provenance, "spquant": log})
    return weights, log
