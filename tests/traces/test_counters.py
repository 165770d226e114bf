"""Operation counters against counts worked out by hand on tiny layers with known spike maps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spec import BackboneSpec, ExitSpec, LayerSpec
from sparq_gym.traces import COUNTER_NAMES
from sparq_gym.traces.counters import MemoryModel, OpCounter, conv_fanout, synaptic_ops

K = {name: i for i, name in enumerate(COUNTER_NAMES)}


def test_conv_fanout_3x3_pad1() -> None:
    # 3x3 input, k3 p1 s1: a corner pixel lies in 4 windows, an edge pixel in 6, the centre in 9.
    fan = conv_fanout(nn.Conv2d(1, 2, 3, padding=1), (3, 3))
    assert fan.tolist() == [[8, 12, 8], [12, 18, 12], [8, 12, 8]]


def test_conv_fanout_stride2() -> None:
    # 4x4 input, k3 p1 s2: windows cover rows -1..1 and 1..3, so row coverage is 1, 2, 1, 1.
    fan = conv_fanout(nn.Conv2d(1, 1, 3, padding=1, stride=2), (4, 4))
    rows = [1, 2, 1, 1]
    assert fan.tolist() == [[r * c for c in rows] for r in rows]
    # k2 s2 p0: every pixel in exactly one window; 5 output channels.
    assert conv_fanout(nn.Conv2d(3, 5, 2, stride=2), (4, 4)).tolist() == [[5] * 4] * 4


@pytest.mark.parametrize("k, p, s, h", [(3, 1, 1, 5), (5, 2, 1, 6), (3, 0, 2, 7), (5, 0, 1, 9)])
def test_conv_fanout_matches_brute_force(k: int, p: int, s: int, h: int) -> None:
    # one spike at a time through an all-ones kernel: each non-zero output uses one weight
    conv = nn.Conv2d(1, 3, k, padding=p, stride=s, bias=False)
    nn.init.ones_(conv.weight)
    fan = conv_fanout(conv, (h, h))
    for i in range(h):
        for j in range(h):
            x = torch.zeros(1, 1, h, h)
            x[0, 0, i, j] = 1
            assert int((conv(x) != 0).sum()) == fan[i, j]


def test_synaptic_ops_conv_spike_map() -> None:
    fan = conv_fanout(nn.Conv2d(2, 2, 3, padding=1), (3, 3))
    spikes = torch.zeros(2, 2, 3, 3)
    spikes[0, 0, 0, 0] = 1  # corner: 2 * 4
    spikes[0, 0, 1, 1] = 1  # centre: 2 * 9
    spikes[0, 1, 0, 1] = 1  # edge, other channel: 2 * 6
    spikes[1, 1, 2, 2] = 1  # sample 1, corner: 2 * 4
    assert synaptic_ops(spikes, fan).tolist() == [8 + 18 + 12, 8]


def test_synaptic_ops_linear() -> None:
    spikes = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0]])
    assert synaptic_ops(spikes, torch.tensor(7)).tolist() == [21, 0]


class _FixedSpikes(nn.Module):
    """Stand-in neuron layer that emits a given spike map whatever its input."""

    def __init__(self, spikes: torch.Tensor) -> None:
        super().__init__()
        self.spikes = spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spikes


def _tiny_spec() -> BackboneSpec:
    # input 1x4x4 -> conv(1->2,k3,p1) -> [exit: pool2, conv(2->3,k3,p1), flatten, linear 12->2]
    #             -> pool2, flatten, linear(8 -> 3) -> linear(3 -> 2)
    return BackboneSpec(
        name="tiny", dataset="none", input_shape=(1, 4, 4), num_classes=2,
        layers=(
            LayerSpec("conv", 1, 2, kernel_size=3, padding=1, name="c1"),
            LayerSpec("linear", 8, 3, pool_before=2, flatten_before=True, name="f1"),
            LayerSpec("linear", 3, 2, batch_norm=False, name="f2"),
        ),
        exits=(ExitSpec(0, (
            LayerSpec("conv", 2, 3, kernel_size=3, padding=1, pool_before=2, name="h.c"),
            LayerSpec("linear", 12, 2, flatten_before=True, batch_norm=False, name="h.out"),
        )),),
    )


def test_spiking_counter_by_hand() -> None:
    net = build_network(_tiny_spec()).eval()
    s1 = torch.zeros(1, 2, 4, 4)
    s1[0, 0, 0, 0] = 1          # pooled cell (0, 0)
    s1[0, 1, 3, 3] = 0.5        # a threshold-scaled spike, pooled cell (1, 1)
    s1[0, 1, 2, 3] = 0.5        # pooled cell (1, 1)
    net.activations[0] = _FixedSpikes(s1)
    net.activations[1] = _FixedSpikes(torch.tensor([[1.0, 0.0, 1.0]]))
    net.heads[0].activations[0] = _FixedSpikes(torch.ones(1, 3, 2, 2))
    memory = MemoryModel(weight_bytes=1, activation_bytes=1, membrane_bytes=2, spike_bytes=1)
    with torch.no_grad(), OpCounter(net, spiking=True, memory=memory) as counter:
        net(torch.zeros(1, 1, 4, 4))
        net(torch.zeros(1, 1, 4, 4))  # two timesteps
    parts = counter.part_counts()[0]
    # backbone segment 0 = conv c1 (analog input): 4*4*2*1*9 = 288 MACs per step
    assert parts[0, K["macs"]] == 2 * 288
    assert parts[0, K["spikes"]] == 2 * 3
    assert parts[0, K["lif_ops"]] == 2 * (32 * 2)
    # memory: weights 2*9 + 2 bias = 20, input 16 pixels, membranes 32 * 2 * 2 B, 3 spikes out
    assert parts[0, K["mem_bytes"]] == 2 * (20 + 16 + 128 + 3)
    # head conv on the 2x2 pooled map, k3 p1: every output covers every pixel -> fan-out 3*4 = 12
    # per pre-pool spike (3 spikes); head linear gets 12 spikes x 2 outputs.
    assert parts[2, K["synaptic_ops"]] == 2 * (3 * 12 + 12 * 2)
    assert parts[2, K["spikes"]] == 2 * 12
    # segment 1 = f1 (3 spikes x fan-out 3) + f2 (2 spikes x fan-out 2)
    assert parts[1, K["synaptic_ops"]] == 2 * (3 * 3 + 2 * 2)
    assert parts[1, K["lif_ops"]] == 2 * (3 + 2) * 2
    exits, full = counter.exit_counts()[0], counter.full_counts()[0]
    assert (exits[0] == parts[0] + parts[2]).all()
    assert (exits[1] == parts[0] + parts[1] + parts[2]).all()
    assert (full == parts[0] + parts[1]).all()


def test_ann_counter_macs_and_memory() -> None:
    net = build_network(_tiny_spec()).eval()
    memory = MemoryModel(weight_bytes=4, activation_bytes=4)
    with torch.no_grad(), OpCounter(net, spiking=False, memory=memory) as counter:
        net(torch.zeros(3, 1, 4, 4), with_exits=False)
    full = counter.full_counts()
    assert full[:, K["macs"]].tolist() == [288 + 24 + 6] * 3
    assert full[:, K["synaptic_ops"]].tolist() == [0, 0, 0]
    # weights (20 + 27 + 8) * 4 B + activations in/out (16 + 32 + 32 + 3 + 3 + 2) * 4 B
    assert full[0, K["mem_bytes"]] == (20 + 27 + 8) * 4 + (16 + 32 + 32 + 3 + 3 + 2) * 4


def test_counter_rejects_batch_change_and_empty() -> None:
    net = build_network(_tiny_spec()).eval()
    with torch.no_grad(), OpCounter(net, spiking=False) as counter:
        with pytest.raises(RuntimeError, match="no counts yet"):
            counter.exit_counts()
        net(torch.zeros(2, 1, 4, 4))
        with pytest.raises(ValueError, match="batch size changed"):
            net(torch.zeros(3, 1, 4, 4))
