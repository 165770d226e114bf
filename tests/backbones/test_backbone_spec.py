"""Static counts of the backbone descriptions against the paper's numbers (spec §2)."""

from __future__ import annotations

import pytest

from sparq_gym.backbones.spec import (
    BACKBONES,
    BackboneSpec,
    get_spec,
    layer_shapes,
    network_stats,
)


def test_alexnet_pins() -> None:
    stats = network_stats(get_spec("alexnet"))
    assert stats["macs"] == 200_515_584
    assert stats["neurons"] == 180_234
    assert stats["lif_ops_t32"] == 11_534_976
    assert stats["lif_ops_t4"] == 1_441_872


def test_alexnet_layer_macs_by_hand() -> None:
    macs = {row["name"]: row["macs"] for row in network_stats(get_spec("alexnet"))["layers"]}
    assert macs["conv1"] == 32 * 32 * 64 * 3 * 9
    assert macs["conv2"] == 16 * 16 * 192 * 64 * 9
    assert macs["conv5"] == 8 * 8 * 256 * 256 * 9
    assert macs["fc1"] == 4096 * 4096


def test_mlp_and_lenet_pins() -> None:
    assert network_stats(get_spec("mlp"))["macs"] == 574_080
    assert network_stats(get_spec("lenet"))["macs"] == 416_520
    # LeNet neurons: 6*28*28 + 16*10*10 + 120 + 84 + 10
    assert network_stats(get_spec("lenet"))["neurons"] == 4704 + 1600 + 214


def test_exit_macs_are_cumulative() -> None:
    stats = network_stats(get_spec("alexnet"))
    exit1, exit2, final = stats["exits"]
    conv1 = 1_769_472
    head1 = 16 * 16 * 32 * 64 * 9 + 512 * 10
    head2 = 4 * 4 * 128 * 384 * 9 + 512 * 10
    assert exit1["macs"] == conv1 + head1
    assert exit2["macs"] == conv1 + 28_311_552 + 42_467_328 + head1 + head2
    assert final["macs"] == 200_515_584 + head1 + head2
    assert [e["name"] for e in stats["exits"]] == ["exit1", "exit2", "final"]


def test_layer_shapes_lenet() -> None:
    shapes = layer_shapes(get_spec("lenet").layers, (1, 28, 28))
    assert [out for _, out in shapes] == [(6, 28, 28), (16, 10, 10), (120,), (84,), (10,)]


def test_spec_roundtrip_and_errors() -> None:
    for spec in BACKBONES.values():
        assert BackboneSpec.from_dict(spec.to_dict()) == spec
    assert get_spec("AlexNet") is BACKBONES["alexnet"]
    with pytest.raises(ValueError, match="expected one of"):
        get_spec("resnet")


def test_mlp_and_lenet_exit_macs_by_hand() -> None:
    mlp = [e["macs"] for e in network_stats(get_spec("mlp"))["exits"]]
    head1, head2 = 512 * 32 + 32 * 10, 256 * 32 + 32 * 10  # hidden 32 + classifier
    assert mlp == [784 * 512 + head1, 784 * 512 + head1 + 512 * 256 + head2, 574_080 + head1 + head2]
    lenet = [e["macs"] for e in network_stats(get_spec("lenet"))["exits"]]
    conv1, conv2 = 28 * 28 * 6 * 25, 10 * 10 * 16 * 6 * 25
    head1 = 7 * 7 * 8 * 6 * 9 + 392 * 10  # avg-pool 4 -> 6x7x7, conv 6->8 k3 p1, linear 392->10
    head2 = 5 * 5 * 8 * 16 * 9 + 200 * 10  # avg-pool 2 -> 16x5x5, conv 16->8 k3 p1, linear 200->10
    assert lenet == [conv1 + head1, conv1 + conv2 + head1 + head2, 416_520 + head1 + head2]
