"""The related seeds' neurons (spec §8): multi-level spikes (seed 004) and the integer membrane (seed 002)."""

from __future__ import annotations

import pytest
import torch
from test_spiking import _exit_spec, _randomize

from sparq_gym.backbones.model import build_network
from sparq_gym.backbones.spiking import SpikingNetwork, convert
from sparq_gym.backbones.spiking.integer_membrane import IntegerMembraneNeuron, membrane_range
from sparq_gym.backbones.spiking.neurons import MultiLevelNeuron


def test_multilevel_neuron_is_clip_floor_shift_at_one_timestep() -> None:
    # lam = 2, N = L = 4: one level is 0.5; z = clamp(floor(I / 0.5 + 1/2), 0, 4)
    neuron = MultiLevelNeuron(threshold=2.0, levels=4)
    current = torch.tensor([-1.0, 0.2, 0.26, 1.0, 1.9, 5.0])
    # I/0.5 + 0.5 = -1.5, 0.9, 1.02, 2.5, 4.3, 10.5 -> floor, clamp to 0..4
    assert neuron(current).tolist() == [0, 0, 1, 2, 4, 4]


def test_multilevel_neuron_keeps_the_remainder_between_timesteps() -> None:
    neuron = MultiLevelNeuron(threshold=1.0, levels=2)  # one level = 0.5, U starts at 0.25
    trains = [neuron(torch.tensor([0.4])).item() for _ in range(3)]
    # U: 0.65 -> z=1, U=0.15; 0.55 -> z=1, U=0.05; 0.45 -> z=0
    assert trains == [1, 1, 0]
    neuron.reset()
    assert neuron(torch.tensor([0.4])).item() == 1


def test_multilevel_network_equals_its_ann_at_one_timestep() -> None:
    """Unlike binary spikes, N = L levels at T = 1 reproduce every layer of the ANN, exits included."""
    spec = _exit_spec()
    ann = build_network(spec)
    _randomize(ann, seed=5)
    x = torch.randn(128, 1, 4, 4, generator=torch.Generator().manual_seed(6)) * 2
    with torch.no_grad():
        expected = ann(x)
        weights = convert(ann, (0.0,), (1.0,))
        got = SpikingNetwork(weights, timesteps=1, spike_levels=spec.levels)(x)
        binary = SpikingNetwork(weights, timesteps=spec.levels)(x)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)
    assert not all(torch.allclose(b, e, atol=1e-5) for b, e in zip(binary, expected, strict=True))


def test_integer_membrane_by_hand() -> None:
    # theta = 1, S = 4 units per threshold (a unit is 0.25), 5-bit membrane in [-16, 15], U starts at 2
    neuron = IntegerMembraneNeuron(threshold=1.0, bits=5, steps=4)
    assert membrane_range(5) == (-16, 15)
    current = torch.tensor([0.5, 0.1, 5.0, -10.0])
    first = neuron(current)
    # q = round(I / 0.25) = 2, 0 (0.4 rounds to 0), 20, -40
    # U = 4 (spike, -> 0), 2, 15 (saturated; spike -> 11), -16
    assert first.tolist() == [1, 0, 1, 0]
    assert neuron.mem is not None and neuron.mem.tolist() == [0, 2, 11, -16]
    second = neuron(torch.tensor([0.5, 0.5, 0.0, 0.0]))
    # U = 2, 4 (spike -> 0), 11 (spike -> 7), -16
    assert second.tolist() == [0, 1, 1, 0]
    assert neuron.mem.tolist() == [2, 0, 7, -16]


@pytest.mark.parametrize(("bits", "steps"), [(1, 1), (3, 4), (4, 0)])
def test_integer_membrane_rejects_impossible_widths(bits: int, steps: int) -> None:
    with pytest.raises(ValueError, match=r"bits|steps"):
        IntegerMembraneNeuron(1.0, bits, steps)
