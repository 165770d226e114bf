"""The tutorials as notebooks (docs/notebooks/): each runs top to bottom in a real Jupyter kernel,
and every exercise's check cell prints "right" for the solution filled in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "notebooks"


@pytest.mark.parametrize("name", ["q_learning.ipynb", "depth_time.ipynb"])
def test_notebook_runs_top_to_bottom_and_its_checks_say_right(name):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") for cell in code)  # shipped without outputs
    start = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    seconds = time.perf_counter() - start
    printed = [
        "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    checks = [text for text in printed if text.startswith(("right", "not yet"))]
    assert checks and all(text.startswith("right") for text in checks), checks
    assert seconds < 120, f"{name} took {seconds:.0f} s"
