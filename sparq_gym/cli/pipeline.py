"""``sparq backbone convert|qat|extract|pipeline``: the stages after training, as commands.

Examples::

    sparq backbone pipeline mlp --ann runs/mlp/model.pt          # everything, into pretrained/mlp/
    sparq backbone pipeline lenet                                  # trains runs/lenet/ann/ first if needed
    sparq backbone convert mlp --work runs/mlp                     # only the FP32 conversion
    sparq backbone qat mlp --work runs/mlp --qat-epochs 2          # only QAT + INT8 export
    sparq backbone extract mlp --networks qdsnn                    # traces (+ Table 1 manifest)
    sparq backbone pipeline alexnet --limit 8 --out /tmp/smoke     # smoke run on 8 images per split
    sparq backbone extract lenet --networks qdsnn_time             # depth x time traces from the shipped
                                                                   # INT8 weights (no ANN, no training)

Every stage is recorded in ``<work>/pipeline_state.json`` and skipped when its
inputs and outputs are unchanged, so re-running a command resumes it
(``--force`` re-runs).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from sparq_gym.backbones.spec import EXIT_WEIGHTS
from sparq_gym.cli.arguments import config_from_args

__all__ = ["add_commands"]

_STAGES = {
    "convert": ("convert",),
    "qat": ("qat",),
    "extract": ("extract", "ship"),
    "pipeline": ("train", "convert", "qat", "extract", "ship"),
}


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed: ``sparq ...`` through the CLI, ``python -m ...`` otherwise."""
    program = (["sparq"] if getattr(args, "command", None) == "backbone"
               else ["python", "-m", "sparq_gym.cli.pipeline"])
    return " ".join(shlex.quote(a) for a in [*program, *sys.argv[1:]])


def _run(args: argparse.Namespace) -> int:
    import torch

    from sparq_gym.backbones.spiking.spquant import SpQuantConfig
    from sparq_gym.paths import NETWORKS, TIME_NETWORKS
    from sparq_gym.pipeline import PipelineConfig, run_pipeline

    if args.threads:
        torch.set_num_threads(args.threads)
    networks = tuple(args.networks.split(",")) if args.networks else NETWORKS + TIME_NETWORKS
    spquant = SpQuantConfig(train_images=args.spquant_images, lr=args.spquant_lr,
                            prune_fraction=args.spquant_prune,
                            prune_fraction_linear=args.spquant_prune_linear,
                            prune_ramp=args.spquant_prune_ramp, membrane_bits=args.spquant_membrane_bits,
                            steps=args.spquant_steps, exit_weights=args.spquant_exit_weights,
                            batch_size=args.spquant_batch_size, spike_penalty=args.spquant_spike_penalty,
                            distill=args.spquant_distill)
    config = config_from_args(PipelineConfig, args, backbone=args.name, work_dir=args.work,
                              out_root=args.out, networks=networks, progress=not args.no_progress,
                              command=_command_line(args), spquant=spquant)
    result = run_pipeline(config, _STAGES[args.backbone_action])
    if "table1" in result:
        print(json.dumps({"backbone": result["backbone"], "summary": result["summary"],
                          "wall_seconds": result["wall_seconds"]}, indent=2))
    return 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="backbone: mlp, lenet or alexnet")
    parser.add_argument("--work", default=None, help="work directory (default: runs/NAME)")
    parser.add_argument("--out", default=None, help="root of the shipped artifacts (default: pretrained/)")
    parser.add_argument("--ann", default=None,
                        help="trained ANN model.pt (default: WORK/ann/model.pt, trained if missing)")
    parser.add_argument("--data-root", default=None, help="dataset root (default: SPARQ_DATA, ...)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the datasets' md5 checks (only for a copy you trust)")
    parser.add_argument("--train-epochs", type=int, default=None,
                        help="epochs if the ANN must be trained (default: the backbone's)")
    parser.add_argument("--qat-epochs", type=int, default=2, help="QAT fine-tuning epochs (default 2)")
    parser.add_argument("--qat-lr", type=float, default=1e-4, help="QAT learning rate (default 1e-4)")
    parser.add_argument("--qat-max-steps", type=int, default=None, help="cap QAT steps per epoch (smoke)")
    parser.add_argument("--calibration-images", type=int, default=512,
                        help="fit images for the INT8 network's bias calibration (0: off; default 512)")
    parser.add_argument("--qsnn-timesteps", type=int, default=4, help="T of the INT8 network (default 4)")
    parser.add_argument("--snn-timesteps", type=int, default=32, help="T of the FP32 SNN (default 32)")
    parser.add_argument("--batch-size", type=int, default=256, help="extraction batch size")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images per split (smoke)")
    parser.add_argument("--snn-limit", type=int, default=None,
                        help="only the first N images per split for the T=32 FP32 SNN (default: --limit)")
    parser.add_argument("--networks", default=None,
                        help="comma-separated trace sets to extract (default: qdsnn,dynamic_ann,snn,"
                             "multilevel,spquant,qdsnn_time; multilevel, spquant and qdsnn_time need no "
                             "ANN: they use the INT8 weights in WORK or the shipped ones)")
    parser.add_argument("--multilevel-timesteps", type=int, default=1,
                        help="T of the multi-level network (seed 004; default 1)")
    parser.add_argument("--spquant-images", type=int, default=None,
                        help="fit images the SpQuant fine-tuning sees (default: one epoch)")
    parser.add_argument("--spquant-lr", type=float, default=1e-3,
                        help="SpQuant fine-tuning learning rate (default 1e-3, cosine-annealed)")
    parser.add_argument("--spquant-prune", type=float, default=0.25,
                        help="fraction of conv channels SpQuant prunes per layer (default 0.25)")
    parser.add_argument("--spquant-prune-linear", type=float, default=0.5,
                        help="fraction of linear units SpQuant prunes per layer (default 0.5)")
    parser.add_argument("--spquant-prune-ramp", type=float, default=0.0,
                        help="share of the SpQuant fine-tuning over which the channels are cut in 10 steps "
                             "(default 0: one cut before it)")
    parser.add_argument("--spquant-membrane-bits", type=int, default=5,
                        help="bits of the SpQuant integer membrane (default 5)")
    parser.add_argument("--spquant-steps", type=int, default=8,
                        help="SpQuant membrane units per threshold (default 8)")
    parser.add_argument("--spquant-exit-weights", choices=EXIT_WEIGHTS, default=EXIT_WEIGHTS[0],
                        help="SpQuant loss weights of the exits: equal, or the ANN's (default uniform)")
    parser.add_argument("--spquant-batch-size", type=int, default=64, help="SpQuant fine-tuning batch size")
    parser.add_argument("--spquant-spike-penalty", type=float, default=0.0,
                        help="weight of the mean spike rate in the SpQuant fine-tuning loss (default 0: off)")
    parser.add_argument("--spquant-distill", type=float, default=0.0,
                        help="weight of distillation from the INT8 network's exact QNN twin (default 0: off)")
    parser.add_argument("--force", action="store_true", help="re-run stages even when up to date")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_commands(backbone_subparsers: Any) -> None:
    """Add ``convert``, ``qat``, ``extract`` and ``pipeline`` to the ``sparq backbone`` sub-parsers."""
    helps = {
        "convert": "convert the trained ANN to an FP32 SNN (fold BN, thresholds = clips)",
        "qat": "INT8 quantization-aware fine-tuning and export of the INT8 weights",
        "extract": "extract the exit traces (qdsnn, dynamic_ann, snn) and write the Table 1 manifest",
        "pipeline": "data -> trained ANN -> SNN -> INT8 -> traces -> pretrained/NAME, resumable",
    }
    for action, text in helps.items():
        parser = backbone_subparsers.add_parser(action, help=text)
        _add_arguments(parser)
        parser.set_defaults(handler=_run, backbone_action=action)
