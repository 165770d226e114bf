"""Tests of sparq_gym.reports.backbone_stats: the text of ``sparq backbone stats``."""

from __future__ import annotations

from sparq_gym.reports.backbone_stats import format_network_stats


def test_stats_text_by_hand() -> None:
    stats = {
        "backbone": "toy", "dataset": "mnist", "macs": 1234567, "neurons": 1000,
        "lif_ops_t4": 8000, "lif_ops_t32": 64000,
        "layers": [{"name": "fc1", "input": (784,), "output": (16,), "macs": 12544, "neurons": 16}],
        "exits": [{"name": "final", "after": "fc1", "macs": 12704, "head_macs": 160}],
    }
    lines = format_network_stats(stats).splitlines()
    assert lines[0] == "toy (mnist): 1,234,567 MACs, 1,000 neurons, LIF ops 8,000 (T=4) / 64,000 (T=32)"
    assert lines[1] == "  fc1      (784,)           -> (16,)                   12,544 MACs       16 neurons"
    assert lines[2] == "  exit final  after fc1    cumulative        12,704 MACs (head 160)"
