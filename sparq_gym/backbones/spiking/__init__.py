"""ANN-to-SNN conversion: the clip-floor-shift ANN becomes an integrate-and-fire network.

Neuron
    Every clip-floor-shift activation of the trained ANN (backbone and exit
    heads) becomes a layer of :class:`snntorch.Leaky` neurons with ``beta = 1``
    (no leak: an integrate-and-fire neuron), reset by subtraction, threshold =
    the learned clip ``lam`` and initial membrane potential ``lam / 2``. Per
    timestep ``t`` (snntorch's update, written out)::

        U[t] = U[t-1] + I[t] - lam * S[t-1]        S[t] = 1 if U[t] > lam else 0

    With a constant input current ``I`` this neuron fires
    ``clamp(floor(I*T/lam + 1/2), 0, T)`` spikes in ``T`` steps, so at ``T = L``
    its rate times ``lam`` is exactly the clip-floor-shift output
    ``(lam/L) * clamp(floor(I*L/lam + 1/2), 0, L)`` (the initial ``lam/2`` is the
    "shift"; ties at exact half-levels round down here and up in the ANN). A
    leak (``beta < 1``) would lose charge between spikes and break this
    identity, which is why the neurons do not leak. Deeper layers receive
    spike trains instead of constant currents, so the identity holds for them
    only on average (the residual is the usual "unevenness" conversion error).

Synapse layers
    BatchNorm is folded into the conv/linear weights and biases. Neurons emit
    binary spikes ``S in {0, 1}``; the threshold of the sending layer is folded
    into the receiving layer's per-channel output scale, so a spike-fed layer
    computes ``I = (W * sumpool(S)) * out_scale + b`` with
    ``out_scale = lam_prev * s_w / k^2`` (``k``: the average-pool kernel in front
    of the layer, computed as a sum-pool; ``s_w``: 1 for FP32 weights, the
    per-output-channel scale for INT8 weights). The first layer receives the
    analog (normalized) image at every timestep (direct encoding); with INT8
    weights that image is first quantized to unsigned 8 bits (scale and zero
    point learned by the QAT observers).

INT8 arithmetic
    With INT8 weights the product ``W * sumpool(S)`` is an integer accumulator:
    int8 weights times small non-negative integers (spike counts of a pool
    window, or the 8-bit input codes minus their zero point). It is computed
    with float32 kernels on integer-valued tensors, which is exact because
    every partial sum is an integer bounded by ``sum|w| * max|input|``; that
    bound is checked per layer when the network is built and a layer whose
    bound reaches ``2**24`` (float32's exact-integer range) accumulates in
    float64 instead. The accumulator is rounded to the nearest integer before
    scaling, so the result equals an int32 accumulation (shown by
    ``tests/backbones/test_spiking.py``) and does not depend on batch size or
    thread count.

Calibration
    At ``T = L`` the deeper layers fire a little off their ANN levels because
    their input spikes are uneven in time. :func:`calibrate_biases` corrects
    each layer's bias per channel so that its mean output over a few training
    images matches the ANN's (weights unchanged); the pipeline applies it to
    the INT8 network (on LeNet's hold-out: 98.30 % -> 98.62 % at T=4).

Outputs
    The last layer of the backbone and of every head has no neuron: its
    output is the mean over the ``T`` timesteps of its input current (the
    membrane potential of a non-firing integrator divided by ``T``).

The network exposes ``blocks``, ``activations``, ``heads[k].blocks``,
``heads[k].activations`` and ``exit_after`` like
:class:`~sparq_gym.backbones.model.ExitNetwork`, so
:class:`sparq_gym.traces.counters.OpCounter` counts it unchanged (run in ``spiking=True``
mode; every timestep calls each layer once).

Modules: :mod:`~sparq_gym.backbones.spiking.neurons` (the IF neuron),
:mod:`~sparq_gym.backbones.spiking.weights` (weights, keys, the ``.npz`` + ``.json``
format), :mod:`~sparq_gym.backbones.spiking.conversion` (BatchNorm folding, ANN ->
FP32 weights), :mod:`~sparq_gym.backbones.spiking.network` (synapse layers, heads,
the network) and :mod:`~sparq_gym.backbones.spiking.calibration` (bias calibration).
"""

from sparq_gym.backbones.spiking.calibration import calibrate_biases
from sparq_gym.backbones.spiking.conversion import convert, fold_batch_norm
from sparq_gym.backbones.spiking.network import SpikingHead, SpikingNetwork, SpikingSynapse
from sparq_gym.backbones.spiking.neurons import IFNeuron
from sparq_gym.backbones.spiking.weights import (
    WEIGHTS_FORMAT_VERSION,
    LayerWeights,
    SpikingWeights,
    activation_keys,
    layer_keys,
    load_weights,
    save_weights,
)

__all__ = [
    "WEIGHTS_FORMAT_VERSION",
    "IFNeuron",
    "LayerWeights",
    "SpikingHead",
    "SpikingNetwork",
    "SpikingSynapse",
    "SpikingWeights",
    "activation_keys",
    "calibrate_biases",
    "convert",
    "fold_batch_norm",
    "layer_keys",
    "load_weights",
    "save_weights",
]
