"""docs/tutorial_q_learning.md runs: every ```python block, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial_q_learning.md"
POLICIES = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_tutorial_code_blocks_run(capsys):
    blocks = _blocks(TUTORIAL)
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "tutorial"}
    for block in blocks:
        exec(compile(block, str(TUTORIAL), "exec"), namespace)
    output = capsys.readouterr().out
    assert "exact optimum thresholds:" in output
    # the packaged learner beats always-final on test (score 0) whatever the traces
    assert namespace["rows"]["q-learning"]["normalized_score"] > 0.0


def test_policies_page_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "policies_doc"}
    for block in _blocks(POLICIES):
        exec(compile(block, str(POLICIES), "exec"), namespace)
    assert namespace["metrics"]["normalized_score"] > 0.0
