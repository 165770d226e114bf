"""EnvConfig: its saved form, the command flags, and what it loads once."""

from __future__ import annotations

import argparse
import sys

import pytest

from agents.common import EnvConfig, add_env_arguments, env_config_from_arguments
from agents.learners import q_learning, sb3
from agents.loading import load_policy
from sparq_gym.envs.settings import ExitSettings, SettingsError


def test_saved_form_keeps_the_flat_keys():
    config = EnvConfig("SPARQExit-MLP-v0", traces="synthetic", settings=ExitSettings(alpha=0.5, n_bins=20))
    record = config.to_dict()
    assert record == {
        "env_id": "SPARQExit-MLP-v0",
        "traces": "synthetic",
        "trace_dir": None,
        "alpha": 0.5,
        "n_bins": 20,
        "cost": "total_ops",
        "network": "qdsnn",
        "source": "synthetic",
    }
    assert EnvConfig.from_dict(record) == config
    # a record of an older policy, without network: the default fills it
    assert EnvConfig.from_dict({"env_id": "SPARQExit-MLP-v0", "alpha": 0.3}).settings == ExitSettings()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_env_arguments(parser, env_required=False)
    return parser.parse_args(argv)


def test_flags_win_then_the_saved_record_then_the_defaults():
    saved = {"env_id": "SPARQExit-MLP-v0", "traces": "synthetic", "alpha": 0.7, "n_bins": 20}
    config = env_config_from_arguments(_parse(["--n-bins", "5"]), saved)
    assert (config.env_id, config.traces) == ("SPARQExit-MLP-v0", "synthetic")
    assert config.settings == ExitSettings(alpha=0.7, n_bins=5)
    assert env_config_from_arguments(_parse(["--env", "SPARQExit-LeNet-v0"])) == EnvConfig()
    with pytest.raises(ValueError, match="pass --env"):
        env_config_from_arguments(_parse([]))
    with pytest.raises(SettingsError, match="alpha"):
        env_config_from_arguments(_parse(["--env", "SPARQExit-LeNet-v0", "--alpha", "-1"]))


def test_a_config_loads_once_and_equal_configs_do_not_share():
    config = EnvConfig(traces="synthetic", settings=ExitSettings(n_bins=4))
    assert config.tables("train") is config.tables("train")
    assert config.load_traces("train") is config.load_traces("train")
    assert config.tables("train", "box").observation.shape[-1] != config.tables("train").observation.shape[-1]
    twin = EnvConfig(traces="synthetic", settings=ExitSettings(n_bins=4))
    assert twin == config and hash(twin) == hash(config)
    assert twin.load_traces("train") is not config.load_traces("train")


def test_args_name_their_environment_once():
    config = EnvConfig("SPARQExit-MLP-v0", traces="synthetic", settings=ExitSettings(cost="synaptic_ops"))
    for module in (q_learning, sb3):
        args = module.Args.for_env(config, seed=3)
        assert args.env_config() == config and args.env_config(config) is config
        record = args.record()
        assert record["cost"] == "synaptic_ops" and record["seed"] == 3 and "settings" not in record
        with pytest.raises(ValueError, match="not the one the args name"):
            args.env_config(EnvConfig(traces="synthetic"))


def test_loading_leaves_the_import_path_alone(tmp_path, lenet_config):
    (tmp_path / "loading_test_threshold.py").write_text("THRESHOLD_BIN = 7\n")
    (tmp_path / "loading_test_rule.py").write_text(
        "from loading_test_threshold import THRESHOLD_BIN\n\n"
        "def policy(observation):\n    return int(observation[1] >= THRESHOLD_BIN)\n"
    )
    path, meta_path = list(sys.path), list(sys.meta_path)
    load_policy(str(tmp_path / "loading_test_rule.py"), lenet_config)
    with pytest.raises(ValueError, match=r"loading_test_rule\.py:Policy"):
        load_policy("loading_test_rule:Policy", lenet_config)  # its folder is not on sys.path
    assert sys.path == path and sys.meta_path == meta_path
