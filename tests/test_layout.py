"""The layout's rules, measured by parsing the code (issue 11).

No module over 500 lines, no function over 80 lines (docstring excluded), no
import cycle among the modules of ``sparq_gym`` and ``agents`` (imports inside
functions count), and nothing in ``sparq_gym`` imports ``agents``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sparq_gym", "agents")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the two packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _function_lengths(tree: ast.AST) -> list[tuple[str, int]]:
    """(name, lines from ``def`` to its end, less its docstring) of every function and method."""
    lengths = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                lines -= (first.end_lineno or first.lineno) - first.lineno + 1
            lengths.append((node.name, lines))
    return lengths


def _imports(module: str, tree: ast.AST, known: set[str]) -> set[str]:
    """Modules of the two packages that ``module`` imports (anywhere in its code)."""
    found = set()
    package = module if _is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


@pytest.fixture(scope="module")
def parsed() -> dict[str, tuple[Path, ast.AST]]:
    return {name: (path, ast.parse(path.read_text(), str(path))) for name, path in _modules().items()}


def test_no_module_over_500_lines(parsed):
    long = {name: len(path.read_text().splitlines()) for name, (path, _) in parsed.items()}
    assert {n: c for n, c in long.items() if c > MAX_MODULE_LINES} == {}


def test_no_function_over_80_lines(parsed):
    long = {f"{name}.{func}": lines for name, (_, tree) in parsed.items()
            for func, lines in _function_lengths(tree) if lines > MAX_FUNCTION_LINES}
    assert long == {}


def test_library_never_imports_agents(parsed):
    known = set(parsed)
    bad = {name: sorted(i for i in _imports(name, tree, known) if i.split(".")[0] == "agents")
           for name, (_, tree) in parsed.items() if name.startswith("sparq_gym")}
    assert {n: i for n, i in bad.items() if i} == {}


def test_no_import_cycle(parsed):
    known = set(parsed)
    graph = {name: _imports(name, tree, known) for name, (_, tree) in parsed.items()}
    # A package imports its own submodules when it re-exports them: not a cycle of stages.
    graph = {name: {i for i in deps if not i.startswith(name + ".")} for name, deps in graph.items()}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []
