"""``sparq energy ...`` sub-commands: the break-even analysis of seed 003.

``sparq energy sweep`` evaluates the SNN / QNN-twin energy ratio of
:func:`sparq_gym.energy.energy_ratio` over spike rates and timesteps under
every dataflow preset, prints the break-even spike rate per T and a ratio
table, and (with ``--out``) writes ``energy_sweep.json``,
``energy_sweep.txt`` and the plot ``energy_sweep.png``
(:mod:`sparq_gym.reports.energy_sweep`).
"""

from __future__ import annotations

import argparse
import json
import sys

from sparq_gym.reports.energy_sweep import SweepConfig, format_sweep, run_sweep, write_sweep

__all__ = ["register"]


def _sweep_handler(args: argparse.Namespace) -> int:
    config = SweepConfig(
        timesteps=tuple(args.timesteps) if args.timesteps else SweepConfig.timesteps,
        qnn_sparsity=args.qnn_sparsity,
        fan_in=args.fan_in,
    )
    if not 0.0 <= config.qnn_sparsity <= 1.0:
        raise ValueError(f"--qnn-sparsity must lie in [0, 1], got {config.qnn_sparsity}")
    if config.fan_in < 1 or min(config.timesteps) < 1:
        raise ValueError("--fan-in and every --timesteps value must be >= 1")
    result = run_sweep(config)
    text = format_sweep(result)
    if args.out is not None:
        write_sweep(result, args.out)
    if args.json:
        json.dump(result, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)
        if args.out is not None:
            sys.stdout.write(f"\nwrote {', '.join(result['files'])}\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sparq energy sweep`` to the ``sparq`` command's sub-parsers."""
    energy = subparsers.add_parser(
        "energy", help="energy models: break-even analysis of SNNs vs their QNN twins"
    )
    commands = energy.add_subparsers(dest="energy_command", metavar="SUBCOMMAND", required=True)
    sweep = commands.add_parser(
        "sweep",
        help="SNN/QNN energy ratio over spike rate and T under each dataflow preset (seed 003)",
        description="Break-even analysis of seed 003: the SNN / QNN-twin energy ratio over "
        "spike rate and time window T under the theoretical-minimum, typical-neuromorphic "
        "and worst-case-sparse hardware presets.",
    )
    sweep.add_argument("--json", action="store_true", help="print the result as JSON")
    sweep.add_argument(
        "--out", metavar="DIR", default=None,
        help="also write energy_sweep.{json,txt,png} into DIR",
    )
    sweep.add_argument(
        "--timesteps", metavar="T", type=int, nargs="+", default=None,
        help=f"time windows to evaluate (default {' '.join(map(str, SweepConfig.timesteps))})",
    )
    sweep.add_argument(
        "--qnn-sparsity", type=float, default=SweepConfig.qnn_sparsity,
        help="activation sparsity of the fixed QNN baseline (default 0.8, seed 003 §IV-B)",
    )
    sweep.add_argument(
        "--fan-in", type=int, default=SweepConfig.fan_in,
        help="inputs N of the analysed neuron (default 4096)",
    )
    sweep.set_defaults(handler=_sweep_handler)
