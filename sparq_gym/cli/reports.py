"""``sparq report NAME``: the SPARQ paper's Tables 1-4 and Figures 1-2 for a pretrained backbone.

Writes ``report_<NAME>.md`` and ``report_<NAME>_fig{1_ops,2_exits}.png`` into
``--out`` (default ``docs/``) and prints the Markdown, or the full result as
JSON with ``--json`` (key ``ann_compute_energy_uj`` among the rest). See
:mod:`sparq_gym.reports.paper` for what each table holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sparq_gym.cli.arguments import config_from_args
from sparq_gym.io import check_output_dir
from sparq_gym.reports.timing import TIMING_MODES

__all__ = ["register"]

_DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs"


def _report_handler(args: argparse.Namespace) -> int:
    from sparq_gym.reports.markdown import format_report
    from sparq_gym.reports.paper import ReportConfig, build_report, write_report

    out = check_output_dir(Path(args.out) if args.out is not None else _DEFAULT_OUT)  # before the work
    report = build_report(config_from_args(ReportConfig, args, backbone=args.name))
    paths = write_report(report, out)
    if args.json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True, default=float)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(report, [p.name for p in paths[1:]]))
        sys.stdout.write(f"\nwrote {', '.join(str(p) for p in paths)}\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sparq report NAME`` to the ``sparq`` command's sub-parsers."""
    parser = subparsers.add_parser(
        "report",
        help="the paper's Tables 1-4 and Figures 1-2 for a pretrained backbone, measured",
        description="Paper-style report of a backbone's shipped traces: accuracy and ops "
        "(Table 1), time/power/energy of the spiking variants with the inference time measured "
        "on this CPU (Table 2), op breakdown (Table 3), compute energy (Table 4), ops per "
        "variant (Figure 1) and class distribution across exits (Figure 2), beside the "
        "paper's published values.",
    )
    parser.add_argument("name", help="backbone: mlp, lenet or alexnet (a folder under the "
                        "pretrained root)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="where to write report_NAME.md and its PNGs (default docs/)")
    parser.add_argument("--root", metavar="DIR", default=None,
                        help="pretrained root holding NAME/ (default: $SPARQ_PRETRAINED or "
                        "pretrained/)")
    parser.add_argument("--split", default="test", help="trace split (default test)")
    parser.add_argument("--timing", choices=TIMING_MODES,
                        default="auto",
                        help="Table 2 time: measure the shipped networks on test images, read "
                        "the pipeline's recorded extraction time, or leave it out (default auto: "
                        "measure when weights and data exist, else recorded)")
    parser.add_argument("--timing-images", type=int, default=16,
                        help="test images in the timed batch (default 16)")
    parser.add_argument("--timing-repeats", type=int, default=3,
                        help="timed repetitions, median kept (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads while timing (default 1)")
    parser.add_argument("--data-root", metavar="DIR", default=None,
                        help="dataset folder for the timing images (default: SPARQ_DATA or "
                        "../shared/data)")
    parser.set_defaults(handler=_report_handler)
