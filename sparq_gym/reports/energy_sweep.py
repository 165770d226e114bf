"""The break-even analysis of seed 003: SNN vs QNN-twin energy over spike rate and T.

:func:`run_sweep` evaluates the SNN / QNN-twin energy ratio of
:func:`sparq_gym.energy.energy_ratio` over spike rates and timesteps under
every dataflow preset, with the break-even spike rate per T;
:func:`format_sweep` renders it as plain-text tables,
:func:`write_sweep_plot` as a PNG, and :func:`write_sweep` writes
``energy_sweep.json``, ``energy_sweep.txt`` and ``energy_sweep.png``
(``sparq energy sweep --out DIR``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparq_gym.energy import break_even_spike_rate, energy_ratio, get_preset, qnn_activation_bits
from sparq_gym.io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["SweepConfig", "format_sweep", "run_sweep", "write_sweep", "write_sweep_plot"]


@dataclass(frozen=True)
class SweepConfig:
    """What ``sparq energy sweep`` evaluates.

    :param timesteps: time windows T of the SNN (the twin QNN has ceil(log2(T+1)) bits).
    :param spike_rates: spike rates of the ratio table.
    :param presets: dataflow hardware presets (seed 003 §IV-A).
    :param qnn_sparsity: activation sparsity of the fixed QNN baseline (seed 003 §IV-B: 0.8).
    :param fan_in: inputs N of the analysed neuron.
    :param plot_timesteps: time windows drawn as curves in the plot.
    """

    timesteps: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 32)
    spike_rates: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
    presets: tuple[str, ...] = ("theoretical-minimum", "typical-neuromorphic", "worst-case-sparse")
    qnn_sparsity: float = 0.8
    fan_in: int = 4096
    plot_timesteps: tuple[int, ...] = (1, 2, 4, 8, 16, 32)


def run_sweep(config: SweepConfig) -> dict[str, Any]:
    """Compute the break-even spike rates and the ratio table for ``config``.

    Returns a JSON-ready dict: ``config``, and per preset its hardware
    constants, ``break_even`` (T -> spike rate at ratio 1), ``ratio`` (T ->
    list of SNN/QNN ratios at ``config.spike_rates``) and ``qnn_bits``.
    """
    rates = np.asarray(config.spike_rates, dtype=np.float64)
    result: dict[str, Any] = {"config": asdict(config), "presets": {}}
    for name in config.presets:
        hw = get_preset(name)
        entry: dict[str, Any] = {
            "hardware": asdict(hw),
            "break_even": {},
            "ratio": {},
            "qnn_bits": {},
        }
        for t in config.timesteps:
            entry["break_even"][str(t)] = break_even_spike_rate(
                hw, t, qnn_sparsity=config.qnn_sparsity, fan_in=config.fan_in
            )
            ratio = energy_ratio(
                hw, t, rates, qnn_sparsity=config.qnn_sparsity, fan_in=config.fan_in
            )
            entry["ratio"][str(t)] = [float(v) for v in ratio]
            entry["qnn_bits"][str(t)] = qnn_activation_bits(t)
        result["presets"][hw.name] = entry
    return result


def format_sweep(result: dict[str, Any]) -> str:
    """Render :func:`run_sweep`'s result as plain-text tables."""
    config = result["config"]
    lines = [
        "SNN vs QNN-twin energy on a weight-stationary dataflow chip (seed 003 model)",
        f"fan-in N = {config['fan_in']}, QNN activation sparsity = {config['qnn_sparsity']}, "
        "weights 8-bit; ratio = E_SNN / E_QNN (< 1: the SNN is cheaper)",
        "",
        "Break-even spike rate (%) per time window T (QNN bits = ceil(log2(T+1)))",
    ]
    presets = list(result["presets"])
    header = f"{'T':>4} {'bits':>4} " + " ".join(f"{p:>22}" for p in presets)
    lines += [header, "-" * len(header)]
    for t in config["timesteps"]:
        first = result["presets"][presets[0]]
        row = f"{t:>4} {first['qnn_bits'][str(t)]:>4} "
        row += " ".join(
            f"{100 * result['presets'][p]['break_even'][str(t)]:>22.2f}" for p in presets
        )
        lines.append(row)
    for p in presets:
        lines += ["", f"Energy ratio SNN/QNN, preset {p}"]
        head = f"{'T':>4} " + " ".join(f"{f'r={100 * r:g}%':>9}" for r in config["spike_rates"])
        lines += [head, "-" * len(head)]
        for t in config["timesteps"]:
            values = result["presets"][p]["ratio"][str(t)]
            lines.append(f"{t:>4} " + " ".join(f"{v:>9.3f}" for v in values))
    return "\n".join(lines) + "\n"


def write_sweep_plot(result: dict[str, Any], path: str | Path) -> Path:
    """Plot ratio vs spike rate (one panel per preset, one curve per T) to a PNG, atomically.

    A fourth panel shows the break-even spike rate against T for every preset.
    Uses matplotlib's Agg backend; returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = result["config"]
    presets = list(result["presets"])
    rates = np.logspace(-3, 0, 200)
    fig, axes = plt.subplots(1, len(presets) + 1, figsize=(4.2 * (len(presets) + 1), 3.8))
    for ax, name in zip(axes, presets, strict=False):
        for t in config["plot_timesteps"]:
            ratio = energy_ratio(
                name, t, rates, qnn_sparsity=config["qnn_sparsity"], fan_in=config["fan_in"]
            )
            ax.loglog(rates, ratio, label=f"T={t}")
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(name)
        ax.set_xlabel("SNN spike rate")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("E_SNN / E_QNN")
    axes[0].legend(fontsize=7)
    ax = axes[-1]
    for name in presets:
        ts = config["timesteps"]
        ax.plot(ts, [100 * result["presets"][name]["break_even"][str(t)] for t in ts],
                marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("time window T")
    ax.set_ylabel("break-even spike rate (%)")
    ax.set_title("break-even")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(
        f"SNN vs QNN twin (seed 003 model), N={config['fan_in']}, "
        f"QNN sparsity {config['qnn_sparsity']}",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def write_sweep(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``energy_sweep.json``, ``energy_sweep.txt`` (:func:`format_sweep`) and ``energy_sweep.png``.

    All three are written atomically into ``out_dir``; their paths, also
    recorded under ``result["files"]``, are returned.
    """
    out = Path(out_dir)
    atomic_write_json(out / "energy_sweep.json", result)
    atomic_write_text(out / "energy_sweep.txt", format_sweep(result))
    plot = write_sweep_plot(result, out / "energy_sweep.png")
    paths = [out / "energy_sweep.json", out / "energy_sweep.txt", plot]
    result["files"] = [str(p) for p in paths]
    return paths
