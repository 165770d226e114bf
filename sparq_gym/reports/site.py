"""The documentation site, built from the code: ``sparq docs --out site``.

A page per environment family comes from the environment's class docstring (spaces,
reward, episode end, arguments, Version History) with its animation
(``docs/render/*.gif``, made by ``sparq render-gif``); the leaderboard page is the benchmark's
own output (``docs/benchmark/``); the tutorials, the architecture and the energy models are the
repository's pages. The sources are written to a staging folder and built with mkdocs and the
Material theme (Farama's documentation look) in strict mode: a warning is an error.
"""

from __future__ import annotations

import inspect
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["build_site", "docstring_page", "write_site_sources"]

_REPO = Path(__file__).resolve().parents[2]
_DOCS = _REPO / "docs"

_NAV = """nav:
  - Home: index.md
  - Environments:
      - Exit in depth (SPARQExit): environments/exit.md
      - Exit in depth and time (SPARQDepthTime): environments/depth_time.md
  - Leaderboard: leaderboard.md
  - Tutorials:
      - Q-learning: tutorials/q_learning.md
      - Notebooks: tutorials/notebooks.md
  - Architecture: architecture.md
  - Energy models: energy.md
"""

_INDEX = """# sparq_gym

The early-exit decision of a quantized spiking neural network (SPARQ, Patne et al. 2026) as a
family of Gymnasium environments: an agent decides, head by head (and, in the depth x time
family, timestep by timestep), whether a spiking network may answer now, earning
`+1 + alpha * savings` when right and `-1` when wrong. The environments replay per-image traces
of real trained backbones, so a step costs microseconds.

```python
import gymnasium as gym
import sparq_gym  # registers the ids

env = gym.make("SPARQExit-LeNet-v0")
obs, info = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step(1)  # EXIT
```

- [Exit in depth](environments/exit.md): `SPARQExit-MLP-v0`, `-LeNet-v0`, `-AlexNet-v0`,
  `SPARQExit-v0` (your traces) and the `mo-` (vector reward) ids.
- [Exit in depth and time](environments/depth_time.md): `SPARQDepthTime-*-v0`.
- [Leaderboard](leaderboard.md): every policy on the six shipped ids (`sparq benchmark --quick`).
- [Tutorials](tutorials/q_learning.md) and [notebooks](tutorials/notebooks.md).
"""


def docstring_page(cls: type, title: str, animation: str | None) -> str:
    """A Markdown page from an environment's class docstring: its ``## Section`` headers kept,
    its RST tables and doctest example as code blocks, its roles as code."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    doc = re.sub(r":(?:class|func|meth|mod|attr|data):`~?([\w.]+)`", _short_name, doc)
    doc = doc.replace("``", "`")
    lines, out, block = doc.splitlines(), [], None
    for line in lines:
        is_table = line.startswith("=") and set(line.strip()) <= {"=", " "}
        is_example = line.startswith(">>>") or (block == "python" and line and not line.startswith("##"))
        in_table = is_table or (block == "text" and bool(line.strip()))
        kind = "text" if in_table else ("python" if is_example else None)
        if block is not None and kind != block:
            out.append("```")
            block = None
        if kind is not None and block is None:
            out.append(f"```{kind}")
            block = kind
        out.append(line)
    if block is not None:
        out.append("```")
    header = [f"# {title}", ""]
    if animation:
        header += [f"![{title}]({animation})", ""]
    return "\n".join(header + out) + "\n"


def _short_name(match: re.Match[str]) -> str:
    """A Sphinx role's target as code, its last component only."""
    return f"`{match.group(1).split('.')[-1]}`"


def _local_links(text: str, present: set[str]) -> str:
    """``text`` with Markdown links to repository files that the site does not hold turned into plain
    text (mkdocs' strict mode refuses a link to a missing page)."""

    def keep(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if target.startswith(("http", "#", "mailto:")) or target.split("#")[0] in present:
            return match.group(0)
        return label

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)]+)\)", keep, text)


def write_site_sources(folder: Path) -> Path:
    """Write the site's Markdown pages, images and ``mkdocs.yml`` into ``folder``; return it."""
    from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv
    from sparq_gym.envs.exit_env import SPARQExitEnv

    docs = folder / "docs"
    for sub in ("environments", "tutorials", "benchmark", "render", "energy_sweep", "notebooks"):
        (docs / sub).mkdir(parents=True, exist_ok=True)
    (docs / "index.md").write_text(_INDEX)
    for animation_file in (_DOCS / "render").glob("*.gif"):
        shutil.copyfile(animation_file, docs / "render" / animation_file.name)
    pages = {
        "exit.md": (SPARQExitEnv, "Exit in depth: SPARQExit", "SPARQExit-LeNet-v0.gif"),
        "depth_time.md": (
            SPARQDepthTimeEnv, "Exit in depth and time: SPARQDepthTime", "SPARQDepthTime-AlexNet-v0.gif"
        ),
    }
    for name, (cls, title, gif) in pages.items():
        animation = f"../render/{gif}" if (docs / "render" / gif).exists() else None
        (docs / "environments" / name).write_text(docstring_page(cls, title, animation))
    for item in (_DOCS / "benchmark").iterdir():
        if item.suffix in (".png", ".csv"):
            shutil.copyfile(item, docs / "benchmark" / item.name)
    board = (_DOCS / "benchmark" / "leaderboard.md").read_text()
    heading = ("# Leaderboard\n\n![accuracy-cost plane](benchmark/accuracy_cost.png)\n\n"
               "Written by `sparq benchmark --quick --out docs/benchmark`.")
    board = board.replace("# sparq_gym leaderboard", heading, 1)
    (docs / "leaderboard.md").write_text(board)
    for item in (_DOCS / "energy_sweep").glob("*.png"):
        shutil.copyfile(item, docs / "energy_sweep" / item.name)
    present = {"leaderboard.md", "architecture.md", "energy.md", "energy_sweep/energy_sweep.png"}
    for source, target in (("architecture.md", "architecture.md"), ("energy.md", "energy.md"),
                           ("tutorial_q_learning.md", "tutorials/q_learning.md")):
        (docs / target).write_text(_local_links((_DOCS / source).read_text(), present))
    for notebook in (_DOCS / "notebooks").glob("*.ipynb"):
        shutil.copyfile(notebook, docs / "notebooks" / notebook.name)
    (docs / "tutorials" / "notebooks.md").write_text(
        "# Notebooks\n\nRun them cell by cell in Jupyter (the test suite runs them top to bottom); "
        "each exercise's check cell says `right` or what differs.\n\n"
        "- [Q-learning for early exits](../notebooks/q_learning.ipynb)\n"
        "- [Exits in depth and time](../notebooks/depth_time.ipynb)\n"
    )
    (folder / "mkdocs.yml").write_text(
        "site_name: sparq_gym\nsite_description: Early exits of spiking networks as Gymnasium environments\n"
        "theme:\n  name: material\n  palette:\n    scheme: slate\n    primary: black\n"
        "markdown_extensions:\n  - tables\n  - toc:\n      permalink: true\n" + _NAV
    )
    return folder


def build_site(out: str | Path, *, strict: bool = True) -> Path:
    """Write the sources into a staging folder and build the site into ``out`` with mkdocs
    (``strict``: a warning is an error); return ``out``."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="sparq-site-") as folder:
        sources = write_site_sources(Path(folder))
        config: Any = load_config(config_file=str(sources / "mkdocs.yml"), site_dir=str(out), strict=strict)
        build(config)
    return out
