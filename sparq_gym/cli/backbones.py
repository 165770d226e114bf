"""``sparq backbone stats|train|variants``: static operation counts, ANN training, seed variants.

Examples::

    sparq backbone stats alexnet --json
    sparq backbone variants --out docs/variants.md      # multilevel and spquant beside the QDSNN
    sparq backbone train lenet --data-root ../shared/data --epochs 20 --seed 0 --out runs/lenet
    sparq backbone train alexnet --out runs/alexnet --resume      # continue after a stop
    sparq backbone train alexnet --out runs/alexnet-wr --init-from runs/alexnet/model.pt \
        --epochs 7 --lr 4e-4                                       # a warm restart
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sparq_gym.cli.arguments import config_from_args

__all__ = ["register"]


def _stats(args: argparse.Namespace) -> int:
    from sparq_gym.backbones.spec import get_spec, network_stats
    from sparq_gym.reports.backbone_stats import format_network_stats

    stats = network_stats(get_spec(args.name))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    sys.stdout.write(format_network_stats(stats))
    return 0


def _variants(args: argparse.Namespace) -> int:
    from sparq_gym.io import atomic_write_text, check_output_file
    from sparq_gym.reports.variants import compare_variants, variants_markdown, width_choices

    if args.widths:
        for name in args.backbones:
            for row in width_choices(name, args.widths, data_root=args.data_root):
                print(name, json.dumps(row))
        return 0
    if args.out is not None:
        check_output_file(args.out)
    results = [compare_variants(name) for name in args.backbones]
    text = variants_markdown(results)
    if args.out is not None:
        atomic_write_text(args.out, text)
    if args.json:
        print(json.dumps({"backbones": results}, indent=2))
    else:
        sys.stdout.write(text)
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch

    from sparq_gym.backbones.train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(TrainConfig, args, backbone=args.name, out_dir=args.out,
                              eval_holdout=not args.no_holdout, max_steps_per_epoch=args.max_steps,
                              progress=not args.no_progress)
    metrics: dict[str, Any] = train(config, resume=args.resume)
    if "stopped_after" in metrics:
        print(f"stopped after epoch {metrics['stopped_after']}; continue with --resume")
        return 0
    print(json.dumps({"backbone": metrics["backbone"], "final": metrics["final"],
                      "total_train_seconds": metrics["total_train_seconds"]}, indent=2))
    return 0


def register(subparsers: Any) -> None:
    """Add ``backbone stats`` and ``backbone train`` to the ``sparq`` command."""
    parser = subparsers.add_parser("backbone", help="backbone descriptions, counts and training")
    sub = parser.add_subparsers(dest="backbone_command", metavar="ACTION", required=True)

    stats = sub.add_parser("stats", help="MACs, neurons, LIF ops and per-exit MACs of a backbone")
    stats.add_argument("name", help="backbone: mlp, lenet or alexnet")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=_stats)

    variants = sub.add_parser("variants", help="multi-level and SpQuant networks beside the binary QDSNN "
                              "(accuracy, ops, spike rate, memory, energy; spec §8)")
    variants.add_argument("--backbones", nargs="+", default=["mlp", "lenet", "alexnet"],
                          choices=["mlp", "lenet", "alexnet"], help="backbones (default: all three)")
    variants.add_argument("--out", default=None, help="also write the Markdown to this file")
    variants.add_argument("--json", action="store_true", help="print JSON")
    variants.add_argument("--widths", type=int, default=None, metavar="N",
                          help="instead: accuracy of the untrained SpQuant network for each weight and "
                               "membrane width on N hold-out images (how its defaults were chosen)")
    variants.add_argument("--data-root", default=None, help="dataset root (for --widths)")
    variants.set_defaults(handler=_variants)

    tr = sub.add_parser("train", help="train the conversion-ready dynamic ANN")
    tr.add_argument("name", help="backbone: mlp, lenet or alexnet")
    tr.add_argument("--data-root", default=None, help="dataset root (default: SPARQ_DATA, ...)")
    tr.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the datasets' md5 checks (only for a copy you trust)")
    tr.add_argument("--epochs", type=int, default=None, help="epochs (default: the backbone's)")
    tr.add_argument("--batch-size", type=int, default=None, help="batch size (default: the backbone's)")
    tr.add_argument("--seed", type=int, default=0, help="seed of init, shuffling, augmentation")
    tr.add_argument("--out", required=True, help="run directory (checkpoint, log, model)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    tr.add_argument("--bf16", action="store_true", help="bf16 autocast (slower without AMX)")
    tr.add_argument("--no-holdout", action="store_true", help="skip hold-out accuracy per epoch")
    tr.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs)")
    tr.add_argument("--stop-after", type=int, default=None,
                    help="stop after this epoch (checkpointed); continue later with --resume")
    tr.add_argument("--dataset", default=None,
                    help="another dataset of the same shape (e.g. fashion-mnist, kmnist)")
    tr.add_argument("--lr", type=float, default=1e-3,
                    help="peak Adam learning rate of the cosine schedule (default 1e-3)")
    tr.add_argument("--init-from", default=None, metavar="MODEL_PT",
                    help="continue a finished run's model.pt with a new cosine cycle (warm restart)")
    tr.add_argument("--heads-only", action="store_true",
                    help="with --init-from: train only the early-exit heads (backbone frozen)")
    tr.add_argument("--distill", type=float, default=0.0,
                    help="weight in [0, 1] of distillation from the final head into the early heads")
    tr.add_argument("--distill-temperature", type=float, default=1.0,
                    help="temperature of the distillation term (default 1)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.set_defaults(handler=_train)

    # convert | qat | extract | pipeline: the spiking and INT8 stages.
    from sparq_gym.cli.pipeline import add_commands

    add_commands(sub)
