"""Property-based fuzzing of every entry point (issue 13): each input works or fails cleanly.

For environment keywords, actions, reset arguments, trace arrays and metadata,
manifests, policy outputs and command-line flags, hypothesis generates inputs,
valid and not; every one must either work (and give a sane result: finite
rewards, exits in range) or raise one of the project's own error types
(:class:`sparq_gym.errors.SparqError`, plus Gymnasium's ``InvalidAction`` for
an action outside ``Discrete(2)``) with a non-empty message. The CLI must
return 0 or 2 with one line on stderr (argparse's own usage errors exit 2 too).

Two profiles (registered in ``tests/conftest.py``): ``fuzz`` runs a few
examples per property in the default run (a few seconds in all), ``fuzz-slow``
many more under the ``slow`` marker (``pytest -m slow tests/test_fuzz.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction, ResetNeeded
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparq_gym  # noqa: F401  (registers the ids)
from agents.common import EnvConfig
from agents.policy import CallablePolicy, decide_exits
from sparq_gym.cli.main import main
from sparq_gym.errors import SparqError
from sparq_gym.traces import TraceSet, make_synthetic_traces

EXPECTED: tuple[type[BaseException], ...] = (SparqError, InvalidAction, ResetNeeded)
MLP = "SPARQExit-MLP-v0"
TRACES = make_synthetic_traces(12, seed=5, split="train")
CONFIG = EnvConfig(MLP, traces="synthetic")

FAST = settings.get_profile("fuzz")
SLOW = settings.get_profile("fuzz-slow")


def clean(call: Callable[[], Any]) -> Any:
    """``call()``; an expected error (with a message) gives ``None``, anything else fails the test."""
    try:
        result = call()
    except EXPECTED as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        event(f"raised {type(err).__name__}")  # counted by --hypothesis-show-statistics
        return None
    event("worked")
    return result


def both(strategies: dict[str, st.SearchStrategy[Any]], check: Callable[..., None]) -> tuple[Any, Any]:
    """Two tests of ``check`` over ``strategies``: the bounded default one and the long slow one."""

    def build(profile: settings) -> Any:
        @settings(profile)
        @given(**strategies)
        def test(**values: Any) -> None:
            check(**values)

        return test

    return build(FAST), pytest.mark.slow(build(SLOW))


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3), st.builds(np.float32, st.floats(width=32)),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
)


def _num(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(st.floats(low, high), st.integers(int(low), int(high)), ANYTHING)


# ---- environment keywords, actions, reset arguments -------------------------------------------

ENV_KWARGS = st.fixed_dictionaries({}, optional={
    "alpha": _num(-1, 5),
    "n_bins": st.one_of(st.integers(-2, 1200), ANYTHING),
    "cost": st.one_of(st.sampled_from(["total_ops", "synaptic_ops", "macs", "energy:sparq", "energy:no"]),
                      ANYTHING),
    "obs_type": st.one_of(st.sampled_from(["multidiscrete", "discrete", "box"]), ANYTHING),
    "network": st.one_of(st.sampled_from(["qdsnn", "snn", "dynamic_ann"]), ANYTHING),
})


def check_env(kwargs: dict[str, Any], actions: list[Any]) -> None:
    env = clean(lambda: gym.make(MLP, traces=TRACES, disable_env_checker=True, **kwargs))
    if env is None:
        return
    env.reset(seed=0)
    for action in actions:
        result = clean(lambda action=action: env.step(action))
        if result is not None:
            assert math.isfinite(float(result[1]))
            if result[2]:
                env.reset()


test_env_kwargs_and_actions, test_env_kwargs_and_actions_slow = both(
    {"kwargs": ENV_KWARGS, "actions": st.lists(st.one_of(st.sampled_from([0, 1]), ANYTHING), max_size=6)},
    check_env,
)

SEEDS = st.one_of(st.none(), st.integers(-5, 2**70), ANYTHING, st.lists(ANYTHING, max_size=4))
OPTIONS = st.one_of(
    st.none(), ANYTHING,
    st.fixed_dictionaries({"sample_index": st.one_of(st.integers(-3, 20), ANYTHING,
                                                     st.lists(st.integers(-1, 14), max_size=4))}),
)


def check_reset(seed: Any, options: Any) -> None:
    env = gym.make(MLP, traces=TRACES, disable_env_checker=True)
    if clean(lambda: env.reset(seed=seed, options=options)) is not None:
        assert env.step(1)[2]
    envs = gym.make_vec(MLP, num_envs=3, vectorization_mode="vector_entry_point", traces=TRACES)
    if clean(lambda: envs.reset(seed=seed, options=options)) is not None:
        assert np.isfinite(envs.step(np.ones(3, dtype=np.int64))[1]).all()


test_reset_arguments, test_reset_arguments_slow = both({"seed": SEEDS, "options": OPTIONS}, check_reset)


# ---- trace arrays and metadata ---------------------------------------------------------------

DTYPES = st.sampled_from(["uint8", "int16", "int32", "int64", "float16", "float32", "float64", "bool"])


DEFECTS = (None, None, None, None, "dtype", "shape", "labels", "probs", "huge", "negative", "order",
           "empty", "one exit", "counters", "exit_names", "meta")


@st.composite
def trace_case(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Valid arrays and metadata of a small split, then at most one defect; returns (arrays, meta, defect)."""
    n, e = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    c, k = draw(st.integers(2, 4)), draw(st.integers(1, 5))
    raw = draw(hnp.arrays("float64", (n, e, c), elements=st.floats(0.01, 10)))
    steps = draw(hnp.arrays("int64", (n, e, k), elements=st.integers(0, 10**6)))
    arrays: dict[str, Any] = {
        "labels": draw(hnp.arrays(draw(st.sampled_from(["uint8", "int16", "int64"])), (n,),
                                  elements=st.integers(0, c - 1))),
        "sample_ids": np.arange(n, dtype=np.int32),
        "probs": (raw / raw.sum(axis=2, keepdims=True)).astype(draw(st.sampled_from(["float16", "float32"]))),
        "exit_counts": np.cumsum(steps, axis=1),
        "full_counts": draw(hnp.arrays("int64", (n, k), elements=st.integers(1, 10**6))),
    }
    meta: dict[str, Any] = {"counters": ["macs", "synaptic_ops", "spikes", "lif_ops", "mem_bytes"][:k],
                            "exit_names": [f"e{i}" for i in range(e)]}
    defect = draw(st.sampled_from(DEFECTS))
    name = draw(st.sampled_from(sorted(arrays)))
    if defect == "dtype":
        arrays[name] = arrays[name].astype(draw(DTYPES))
    elif defect == "shape":
        shape = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)
        arrays[name] = draw(hnp.arrays(arrays[name].dtype, shape))
    elif defect == "labels":
        arrays["labels"] = arrays["labels"].astype(np.int64) + draw(st.sampled_from([-c, c, 100]))
    elif defect == "probs":
        arrays["probs"] = draw(hnp.arrays("float32", (n, e, c), elements=st.floats(width=32)))
    elif defect in ("huge", "negative"):
        value = draw(st.integers(2**53, 2**63 - 1)) * (1 if defect == "huge" else -1)
        arrays[draw(st.sampled_from(["exit_counts", "full_counts"]))].flat[0] = value
    elif defect == "order":
        arrays["exit_counts"] = np.ascontiguousarray(arrays["exit_counts"][:, ::-1])
    elif defect in ("empty", "one exit"):
        part = slice(0, 0) if defect == "empty" else slice(None)
        arrays = {key: value[part] for key, value in arrays.items()}
        if defect == "one exit":
            arrays["probs"], arrays["exit_counts"] = arrays["probs"][:, :1], arrays["exit_counts"][:, :1]
    elif defect in ("counters", "exit_names"):
        meta[defect] = draw(st.one_of(st.lists(st.sampled_from(["macs", "synaptic_ops", "spikes", "x"]),
                                               max_size=6), ANYTHING))
    elif defect == "meta":
        meta = draw(st.one_of(st.dictionaries(st.sampled_from(["counters", "exit_names", "class_names"]),
                                              ANYTHING), ANYTHING))
    return arrays, meta, defect


def check_trace_arrays(case: tuple[dict[str, Any], Any, str | None]) -> None:
    arrays, meta, defect = case
    traces = clean(lambda: TraceSet(**arrays, meta=meta, split="train"))
    assert traces is not None or defect is not None, "valid arrays refused"
    if traces is None:
        return
    cost = traces.counter_names[0]
    env = clean(lambda: gym.make("SPARQExit-v0", traces=traces, cost=cost, disable_env_checker=True))
    assert env is not None or defect is not None, "valid traces refused by the environment"
    if env is None:  # e.g. a counter of its own name, which no `cost` names
        return
    env.reset(seed=0)
    _, reward, *_ = env.step(1)
    assert math.isfinite(float(reward))


test_trace_arrays, test_trace_arrays_slow = both({"case": trace_case()}, check_trace_arrays)


# ---- manifests -------------------------------------------------------------------------------

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=5), children, max_size=3)),
    max_leaves=8,
)
MANIFEST_KEYS = st.sampled_from(["schema_version", "counters", "exit_names", "class_names", "n_exits",
                                 "n_classes", "splits", "backbone", "timesteps"])
SPLIT_KEYS = st.sampled_from(["file", "sha256", "n_samples", "accuracy_per_exit"])


def check_manifest(where: str, key: str, value: Any, raw: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        TRACES.save(folder)
        path = Path(folder) / "manifest.json"
        manifest = json.loads(path.read_text())
        if raw is not None:
            path.write_bytes(raw)
        else:
            if where == "top":
                manifest[key] = value
            else:
                manifest["splits"]["train"][key] = value
            path.write_text(json.dumps(manifest))
        traces = clean(lambda: TraceSet.load(folder, split="train"))
        assert traces is None or traces.n_samples == TRACES.n_samples


test_manifests, test_manifests_slow = both(
    {"where": st.sampled_from(["top", "split"]), "key": st.one_of(MANIFEST_KEYS, SPLIT_KEYS),
     "value": JSON, "raw": st.one_of(st.none(), st.none(), st.binary(max_size=40))},
    check_manifest,
)


# ---- policy outputs --------------------------------------------------------------------------

ANSWERS = st.one_of(st.sampled_from([0, 1, True, np.int64(1)]), ANYTHING,
                    hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)))


def check_policy(answer: Any, batched: bool) -> None:
    tables = CONFIG.tables("train")
    small = tables if tables.n_samples <= 50 else _first(tables, 40)

    class Batched:
        name = "fuzz"

        def act(self, observation: Any) -> Any:
            return answer

        def act_batch(self, observations: Any) -> Any:
            return answer

    policy = Batched() if batched else CallablePolicy(lambda obs: answer)
    exits = clean(lambda: decide_exits(policy, small))
    if exits is not None:
        assert exits.shape == (small.n_samples,) and 0 <= exits.min() and exits.max() <= small.n_early_exits


def _first(tables: Any, n: int) -> Any:
    import dataclasses

    per_sample = ("reward", "observation", "labels", "predictions", "correct", "confidence", "bins", "cost",
                  "full_cost", "savings", "counts")
    return dataclasses.replace(tables, **{name: getattr(tables, name)[:n] for name in per_sample})


test_policy_outputs, test_policy_outputs_slow = both(
    {"answer": ANSWERS, "batched": st.booleans()}, check_policy)


# ---- command-line flags ----------------------------------------------------------------------

FLAGS = st.sampled_from(["--alpha", "--n-bins", "--cost", "--network", "--seed", "--split", "--traces",
                         "--env", "--policy", "--trace-dir"])
VALUES = st.one_of(st.sampled_from([
    "0", "1", "-1", "nan", "inf", "1e9", "0.3", "5", "1000000000", "synaptic_ops", "qdsnn", "train",
    "holdout", "always-final", MLP, "", "no/such", "/proc/x", "/dev/null",
]), st.text(max_size=6))


TRAIN_FLAGS = st.sampled_from(["--gamma", "--episodes", "--alpha", "--n-bins", "--seed", "--timesteps",
                               "--early-stopping-on", "--out", "--threads"])


def check_cli(flags: list[tuple[str, str]], capsys: Any, train: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="sparq-fuzz-") as folder, contextlib.chdir(folder):
        _check_cli(flags, capsys, folder if train else None)  # relative --out values land in folder


def _check_cli(flags: list[tuple[str, str]], capsys: Any, out: str | None) -> None:
    argv = ["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", "always-final"]
    if out is not None:
        argv = ["train", "q-learning", "--env", MLP, "--traces", "synthetic", "--episodes", "20",
                "--out", str(Path(out) / "run")]
    for flag, value in flags:
        argv += [flag, value]
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse: a value of the wrong type or choice (usage + one line)
        assert exit_.code == 2
        event("argparse usage error")
        capsys.readouterr()
        return
    err = capsys.readouterr().err
    event(f"exit status {status}")
    assert status == 0 or (status == 2 and len(err.strip().splitlines()) == 1), err


def _cli_test(profile: settings, train: bool) -> Any:
    @settings(profile, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(flags=st.lists(st.tuples(TRAIN_FLAGS if train else FLAGS, VALUES), max_size=3))
    def test(flags: list[tuple[str, str]], capsys: Any) -> None:
        check_cli(flags, capsys, train)

    return test


test_cli_flags = _cli_test(FAST, train=False)
test_cli_flags_slow = pytest.mark.slow(_cli_test(SLOW, train=False))
test_cli_train_flags = _cli_test(FAST, train=True)
test_cli_train_flags_slow = pytest.mark.slow(_cli_test(SLOW, train=True))


# ---- the other families, render modes, reset options (issue 25) ------------------------------

from sparq_gym.traces.timeset import make_synthetic_time_traces  # noqa: E402

TIME_TRACES = make_synthetic_time_traces(10, seed=5, split="train")
FAMILY_KWARGS = st.fixed_dictionaries({}, optional={
    "alpha": _num(-1, 5),
    "n_bins": st.one_of(st.integers(-2, 30), ANYTHING),
    "obs_type": st.one_of(st.sampled_from(["multidiscrete", "discrete", "box"]), ANYTHING),
    "render_mode": st.one_of(st.sampled_from([None, "ansi", "rgb_array", "human"]), ANYTHING),
    "invalid_action": st.one_of(st.sampled_from(["exit", "raise"]), ANYTHING),
})
RESET_OPTIONS = st.one_of(st.none(), ANYTHING, st.dictionaries(
    st.sampled_from(["sample_index", "sample_idx", "seed", ""]), st.one_of(st.integers(-2, 12), ANYTHING),
    max_size=2))


def check_family(env_id: str, kwargs: dict[str, Any], options: Any, actions: list[Any]) -> None:
    """Depth x time (masks: masked actions taken as EXIT or raised) and the mo- ids."""
    kwargs = dict(kwargs)
    if env_id.startswith("mo-"):
        kwargs.pop("invalid_action", None)
        traces: Any = TRACES
    else:
        traces = TIME_TRACES
    env = clean(lambda: gym.make(env_id, traces=traces, disable_env_checker=True, **kwargs))
    if env is None:
        return
    if clean(lambda: env.reset(seed=0, options=options)) is None:
        env.reset(seed=0)
    if kwargs.get("render_mode") in ("ansi", "rgb_array"):
        clean(env.render)
    for action in actions:
        result = clean(lambda action=action: env.step(action))
        if result is not None:
            assert np.all(np.isfinite(np.asarray(result[1], dtype=float)))
            if result[2]:
                flag = result[4].get("invalid_action", False)
                assert not env_id.startswith("SPARQ") or isinstance(flag, bool)
                env.reset()


test_family_kwargs_options_and_actions, test_family_kwargs_options_and_actions_slow = both(
    {"env_id": st.sampled_from(["SPARQDepthTime-v0", "mo-SPARQExit-MLP-v0"]), "kwargs": FAMILY_KWARGS,
     "options": RESET_OPTIONS, "actions": st.lists(st.one_of(st.integers(-1, 3), ANYTHING), max_size=8)},
    check_family,
)


def check_hyperparams(text: str) -> None:
    """Any text as an RL Zoo hyperparameter file: loaded and checked, or one clear error."""
    from agents.learners.sb3 import load_hyperparams

    with tempfile.TemporaryDirectory(prefix="sparq-fuzz-") as folder:
        path = Path(folder) / "h.yml"
        path.write_text(text)
        clean(lambda: load_hyperparams(MLP, "ppo", path))


YAML_TEXT = st.one_of(
    st.text(max_size=40),
    st.builds(lambda key, value: f"default:\n  n_timesteps: 100\n  {key}: {value}\n",
              st.sampled_from(["batch_size", "gamma", "learning_rate", "n_steps", "learning_rat",
                               "env_kwargs", "n_envs", "policy"]),
              st.sampled_from(["-5", "0", "1", "0.5", "2", "x", "[1, 2]", "{obs_type: box}", "{n_bins: 0}",
                               ""])),
)
test_hyperparameter_files, test_hyperparameter_files_slow = both({"text": YAML_TEXT}, check_hyperparams)


def check_saved_policy(record: Any, actions: Any) -> None:
    """A saved policy folder with any ``policy.json`` and any ``actions`` array: loaded and
    evaluated, or one clear error (a missing file included)."""
    from agents.evaluation import evaluate_policy
    from agents.loading import load_policy
    from sparq_gym.io import sha256_file

    with tempfile.TemporaryDirectory(prefix="sparq-fuzz-") as folder:
        directory = Path(folder)
        if actions is not None:
            np.savez(directory / "policy.npz", actions=actions)
        if isinstance(record, dict) and record.get("files") == "SHA" and actions is not None:
            record = {**record, "files": {"policy.npz": sha256_file(directory / "policy.npz")}}
        (directory / "policy.json").write_text(json.dumps(record, default=repr))
        policy = clean(lambda: load_policy(str(directory), CONFIG))
        if policy is not None:
            anchors = {"always_final": 0.0, "exact_optimum": 1.0}
            clean(lambda: evaluate_policy(policy, CONFIG, "train", reference=anchors))


RECORDS = st.one_of(
    ANYTHING,
    st.fixed_dictionaries({"format": st.sampled_from(["table", "sb3", "x", None])}, optional={
        "files": st.one_of(st.just("SHA"), ANYTHING,
                           st.dictionaries(st.text(max_size=4), ANYTHING, max_size=2)),
        "name": ANYTHING, "obs_type": st.one_of(st.sampled_from(["multidiscrete", "box"]), ANYTHING),
        "env": st.one_of(ANYTHING, st.just({"env_id": MLP})),
    }),
)
ACTIONS = st.one_of(
    st.none(),
    hnp.arrays(st.sampled_from([np.int64, np.int8, np.float64]),
               st.sampled_from([(2, 10), (2, 5), (3, 4, 10), (10,), (2, 10, 2)]),
               elements=st.integers(-1, 3)),
)
test_saved_policies, test_saved_policies_slow = both(
    {"record": RECORDS, "actions": ACTIONS}, check_saved_policy
)


def check_zoo_run_file(text: str) -> None:
    """Any text as RL Zoo's ``args.yml``: read, or one clear error."""
    from agents.integrations.zoo import read_zoo_yaml

    with tempfile.TemporaryDirectory(prefix="sparq-fuzz-") as folder:
        path = Path(folder) / "args.yml"
        path.write_text(text)
        clean(lambda: read_zoo_yaml(path))


test_zoo_run_files, test_zoo_run_files_slow = both(
    {"text": st.one_of(st.text(max_size=40), YAML_TEXT)}, check_zoo_run_file
)
