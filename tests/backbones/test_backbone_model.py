"""Built networks: output shapes, hook-measured MACs and LIF ops equal the pinned counts."""

from __future__ import annotations

import pytest
import torch

from sparq_gym.backbones.model import ExitNetwork, build_network
from sparq_gym.backbones.spec import get_spec, network_stats
from sparq_gym.traces import COUNTER_NAMES
from sparq_gym.traces.counters import OpCounter, count_ann

MACS = COUNTER_NAMES.index("macs")
LIF = COUNTER_NAMES.index("lif_ops")


@pytest.fixture(scope="module")
def alexnet() -> ExitNetwork:
    """One AlexNet for the module (building its 36M weights is the slow part)."""
    return build_network(get_spec("alexnet")).eval()


@pytest.mark.parametrize("name, macs", [("mlp", 574_080), ("lenet", 416_520),
                                        ("alexnet", 200_515_584)])
def test_hooks_count_pinned_macs(name: str, macs: int, alexnet: ExitNetwork) -> None:
    spec = get_spec(name)
    net = alexnet if name == "alexnet" else build_network(spec, seed=0)
    logits, per_exit, full = count_ann(net, torch.zeros(2, *spec.input_shape))
    assert len(logits) == spec.n_exits
    assert all(t.shape == (2, spec.num_classes) for t in logits)
    assert full[:, MACS].tolist() == [macs, macs]
    expected = [e["macs"] for e in network_stats(spec)["exits"]]
    assert per_exit[0, :, MACS].tolist() == expected


@pytest.mark.parametrize("timesteps, lif_ops", [
    (4, 1_441_872),
    pytest.param(32, 11_534_976, marks=pytest.mark.slow),  # also pinned statically
])
def test_alexnet_lif_ops_through_hooks(timesteps: int, lif_ops: int,
                                      alexnet: ExitNetwork) -> None:
    net = alexnet
    x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad(), OpCounter(net, spiking=True) as counter:
        for _ in range(timesteps):
            net(x, with_exits=False)
    assert counter.full_counts()[0, LIF] == lif_ops


def test_plain_forward_skips_heads() -> None:
    net = build_network(get_spec("lenet")).eval()
    assert len(net(torch.zeros(1, 1, 28, 28), with_exits=False)) == 1


def test_init_depends_only_on_seed() -> None:
    a = build_network(get_spec("mlp"), seed=3).state_dict()
    b = build_network(get_spec("mlp"), seed=3).state_dict()
    c = build_network(get_spec("mlp"), seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["blocks.0.layer.weight"], c["blocks.0.layer.weight"])
