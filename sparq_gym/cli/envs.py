"""Sub-commands ``sparq envs`` and ``sparq bench-env``."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``envs``, ``bench-env``, ``render-gif`` and ``docs`` to the ``sparq`` command."""
    envs = subparsers.add_parser("envs", help="list the registered SPARQ environments")
    envs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    envs.set_defaults(handler=_run_envs)

    bench = subparsers.add_parser("bench-env", help="steps per second against CartPole, in one run")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.add_argument("--steps", type=int, default=100_000, help="steps per repeat for single envs")
    bench.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median kept)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--traces", choices=("pretrained", "synthetic"), default="pretrained",
                       help="the shipped traces (default; missing ones are an error) or synthetic ones")
    bench.add_argument("--profile", action="store_true",
                       help="instead: where a step's time goes (AlexNet; vector env at 4,096 envs; single)")
    bench.set_defaults(handler=_run_bench)

    gif = subparsers.add_parser("render-gif", help="film episodes with RecordVideo into an animated GIF")
    gif.add_argument("--env", required=True, help="environment id (its shipped traces)")
    gif.add_argument("--out", required=True, help="the GIF to write")
    gif.add_argument("--episodes", type=int, default=3)
    gif.add_argument("--seed", type=int, default=0, help="seed of the episodes' images and random actions")
    gif.add_argument("--split", choices=("train", "test"), default="test")
    gif.add_argument("--frames", default=None, metavar="PNG",
                     help="also write the start, a middle and the end frame of an episode side by side")
    gif.set_defaults(handler=_run_render_gif)

    docs = subparsers.add_parser("docs", help="build the documentation site (mkdocs, Material theme, strict)")
    docs.add_argument("--out", default="site", help="the folder the site is written to (default: site)")
    docs.set_defaults(handler=_run_docs)


def _run_envs(args: argparse.Namespace) -> int:
    from sparq_gym.reports.env_list import describe_envs, format_env_list

    rows = describe_envs()
    print(json.dumps(rows, indent=2) if args.json else format_env_list(rows))
    return 0


def _run_docs(args: argparse.Namespace) -> int:
    from sparq_gym.io import check_output_dir
    from sparq_gym.reports.site import build_site

    check_output_dir(args.out)
    try:
        import material  # noqa: F401  (the theme)
        import mkdocs  # noqa: F401
    except ImportError as err:
        raise ImportError("sparq docs needs mkdocs-material: pip install -e '.[dev]'") from err
    path = build_site(args.out)
    print(f"wrote the site to {path} (open {path / 'index.html'})")
    return 0


def _run_render_gif(args: argparse.Namespace) -> int:
    from sparq_gym.checks import check_integer
    from sparq_gym.envs.families import family_of
    from sparq_gym.io import check_output_file
    from sparq_gym.reports.animation import record_gif

    family_of(args.env)  # a registered id, before any work
    check_integer("--episodes", args.episodes, 1, 50)
    check_integer("--seed", args.seed, 0)
    check_output_file(args.out)
    if args.frames is not None:
        check_output_file(args.frames, "--frames")
    path = record_gif(args.env, args.out, episodes=args.episodes, seed=args.seed, split=args.split,
                      frames=args.frames)
    print(f"wrote {path}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from sparq_gym.reports import bench_env

    if args.profile:
        parts = bench_env.profile_steps(repeats=args.repeats, seed=args.seed)
        print(json.dumps(parts, indent=2) if args.json else bench_env.format_profile(parts))
        return 0
    config = bench_env.BenchConfig(
        single_steps=args.steps, repeats=args.repeats, seed=args.seed, traces=args.traces
    )
    result = bench_env.benchmark_envs(config, progress=lambda msg: print(msg, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else bench_env.format_table(result))
    return 0
