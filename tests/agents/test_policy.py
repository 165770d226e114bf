"""Bring-your-own policies: loading by spec, evaluating and ranking them."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from agents.evaluation import evaluate_policy
from agents.loading import load_policy
from agents.policy import TablePolicy, as_policy, decide_exits, format_thresholds, implied_thresholds
from agents.references.baselines import HindsightOracle

USER_FILE = '''
import numpy as np


class Policy:
    """Exit once the confidence bin reaches 7 (a threshold of 0.7 at both exits)."""

    def act(self, observation):
        return int(observation[1] >= 7)

    def act_batch(self, observations):
        return (np.asarray(observations)[:, 1] >= 7).astype(int)


def always_continue(observation):
    return 0
'''


def test_load_from_file_and_module(tmp_path, monkeypatch, lenet_config):
    path = tmp_path / "my_policy.py"
    path.write_text(textwrap.dedent(USER_FILE))
    by_file = load_policy(str(path), lenet_config)  # finds `Policy`
    by_name = load_policy(f"{path}:Policy", lenet_config)
    function = load_policy(f"{path}:always_continue", lenet_config)
    monkeypatch.syspath_prepend(str(tmp_path))
    by_module = load_policy("my_policy:Policy", lenet_config)
    results = [evaluate_policy(p, lenet_config) for p in (by_file, by_name, by_module)]
    assert len({r["mean_return"] for r in results}) == 1
    # identical to the table "0.7/0.7"
    table = TablePolicy(np.repeat((np.arange(10) >= 7)[None, :], 2, axis=0).astype(int))
    assert results[0]["mean_return"] == evaluate_policy(table, lenet_config)["mean_return"]
    # the plain function never exits: it is always-final, normalized score 0
    assert evaluate_policy(function, lenet_config)["normalized_score"] == pytest.approx(0.0)


def test_bad_specs_say_what_was_expected(tmp_path, lenet_config):
    with pytest.raises(ValueError, match=r"saved policy directory, a model \.zip, a baseline name"):
        load_policy("no-such-policy", lenet_config)
    with pytest.raises(FileNotFoundError):
        load_policy(str(tmp_path / "missing.py"), lenet_config)
    with pytest.raises(FileNotFoundError, match=r"policy\.json"):
        load_policy(str(tmp_path), lenet_config)
    with pytest.raises(ValueError, match="not a policy"):
        as_policy(42)


def test_oracle_needs_the_tables():
    with pytest.raises(TypeError, match="choose_places"):
        HindsightOracle().act((0, 3))


def test_implied_thresholds():
    actions = np.array([[0, 0, 0, 1, 1], [0, 1, 0, 1, 1]])
    records = implied_thresholds(actions)
    assert records[0] == {"exit": 0, "monotone": True, "threshold": 0.6, "exit_bins": [3, 4]}
    assert records[1]["monotone"] is False and records[1]["threshold"] is None
    assert format_thresholds(records) == "0.6/{1,3,4}"
    assert format_thresholds(implied_thresholds(np.zeros((2, 5), dtype=int))) == "never/never"


def test_policy_file_may_import_its_neighbours(tmp_path, lenet_config):
    (tmp_path / "my_threshold.py").write_text("THRESHOLD_BIN = 7\n")
    (tmp_path / "my_policy.py").write_text(
        "from my_threshold import THRESHOLD_BIN\n\n"
        "def policy(observation):\n    return int(observation[1] >= THRESHOLD_BIN)\n"
    )
    policy = load_policy(str(tmp_path / "my_policy.py"), lenet_config)
    reference = load_policy("cfg-0.7-0.7", lenet_config)
    tables = lenet_config.tables("test")
    np.testing.assert_array_equal(decide_exits(policy, tables), decide_exits(reference, tables))
