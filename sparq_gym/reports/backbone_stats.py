"""``sparq backbone stats`` as text: a backbone's static operation counts, layer by layer and per exit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["format_network_stats"]


def format_network_stats(stats: Mapping[str, Any]) -> str:
    """Render :func:`sparq_gym.backbones.spec.network_stats` as plain text, one line per layer and exit.

    The first line gives the totals (MACs, neurons, LIF ops at T=4 and T=32);
    then each layer's input and output shapes, MACs and neurons; then each
    exit's cumulative MACs and its head's own.
    """
    lines = [f"{stats['backbone']} ({stats['dataset']}): {stats['macs']:,} MACs, "
             f"{stats['neurons']:,} neurons, LIF ops {stats['lif_ops_t4']:,} (T=4) / "
             f"{stats['lif_ops_t32']:,} (T=32)"]
    for row in stats["layers"]:
        lines.append(f"  {row['name']:<8} {row['input']!s:<16} -> {row['output']!s:<16} "
                     f"{row['macs']:>13,} MACs {row['neurons']:>8,} neurons")
    for ex in stats["exits"]:
        lines.append(f"  exit {ex['name']:<6} after {ex['after']:<6} cumulative {ex['macs']:>13,} MACs "
                     f"(head {ex['head_macs']:,})")
    return "\n".join(lines) + "\n"
