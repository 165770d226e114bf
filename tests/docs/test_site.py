"""The documentation site builds from the code in mkdocs' strict mode (a warning is an error)."""

from __future__ import annotations

import pytest


def test_site_builds_strict_with_a_page_per_family_and_the_leaderboard(tmp_path, capsys):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    from sparq_gym.cli import main

    assert main(["docs", "--out", str(tmp_path / "site")]) == 0
    site = tmp_path / "site"
    depth_time = (site / "environments" / "depth_time" / "index.html").read_text()
    sections = ("Action Space", "Observation Space", "Rewards", "Episode End", "Arguments", "Version History")
    assert all(section in depth_time for section in sections)
    assert "SPARQDepthTime-AlexNet-v0.gif" in depth_time  # its animation
    assert "Version History" in (site / "environments" / "exit" / "index.html").read_text()
    assert "SPARQDepthTime-AlexNet-v0" in (site / "leaderboard" / "index.html").read_text()
    assert (site / "notebooks" / "depth_time.ipynb").exists()


def test_docstring_page_keeps_sections_and_fences_tables_and_examples():
    from sparq_gym.reports.site import docstring_page

    class Toy:
        """Summary.

        ## Arguments
        ===== =====
        a     b
        ===== =====

        ## Example
        >>> 1 + 1
        2

        ## Version History
        * v0: :class:`~sparq_gym.envs.exit_env.SPARQExitEnv`'s ``rule``.
        """

    page = docstring_page(Toy, "Toy", None)
    assert "```text\n===== =====" in page and "```python\n>>> 1 + 1\n2\n```" in page
    assert "## Version History" in page and "* v0: `SPARQExitEnv`'s `rule`." in page
