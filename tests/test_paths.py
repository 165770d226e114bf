"""Where pretrained/ is found: override, checkout, installed wheel."""

from __future__ import annotations

import sys
from pathlib import Path

import sparq_gym.paths as paths


def test_env_var_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    assert paths.pretrained_root() == tmp_path
    assert paths.trace_dir("mlp") == tmp_path / "mlp" / "qdsnn"


def test_checkout_directory_is_used(monkeypatch):
    monkeypatch.delenv("SPARQ_PRETRAINED", raising=False)
    assert paths.pretrained_root() == Path(paths.__file__).resolve().parents[1] / "pretrained"


def test_installed_data_package_is_found(monkeypatch, tmp_path):
    # A wheel installs pretrained/ as the data-only package ``sparq_gym_pretrained``.
    site = tmp_path / "site"
    (site / "sparq_gym_pretrained" / "mlp").mkdir(parents=True)
    monkeypatch.delenv("SPARQ_PRETRAINED", raising=False)
    monkeypatch.setattr(paths, "_CHECKOUT_ROOT", tmp_path / "no-checkout")
    monkeypatch.syspath_prepend(str(site))
    sys.modules.pop("sparq_gym_pretrained", None)
    assert paths.pretrained_root() == site / "sparq_gym_pretrained"
