"""Issue 13: every bad input of the issue's list fails cleanly, with a message that says why.

One test (or one row of a table) per example of the issue, by failure class:
1 silent substitution of data, 2 two validation paths, 3 well-formed but wrong
traces, 4 wrong value types, 5 output errors, 6 interrupted runs. Each asserts
the error type (a :class:`sparq_gym.errors.SparqError` or an ``OSError`` that
names its path) and the message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401  (registers the ids)
from agents.common import EnvConfig
from agents.learners import q_learning
from agents.loading import load_policy
from agents.policy import CallablePolicy, decide_exits
from sparq_gym.cli.main import main
from sparq_gym.envs.settings import ExitSettings
from sparq_gym.errors import PolicyError, SettingsError, SparqError, TraceError
from sparq_gym.io import atomic_directory
from sparq_gym.traces import TraceSet, make_synthetic_traces
from sparq_gym.traces.validate import COUNTER_NAMES

MLP = "SPARQExit-MLP-v0"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``sparq ARGV`` in-process: (exit status, stderr)."""
    status = main(argv)
    return status, capsys.readouterr().err


def one_error_line(err: str, command: str) -> str:
    """The single stderr line of a failed command (asserts there is exactly one)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"sparq {command}: error: "), err
    return lines[0]


# ---- 1. silent substitution of data ------------------------------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_mistyped_pretrained_root_is_an_error_naming_it(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path / "no/such/dir"))
    argv = {
        "evaluate": ["evaluate", "--env", MLP, "--policy", "cfg-0.6-0.7"],
        "train": ["train", "q-learning", "--env", MLP, "--out", str(tmp_path / "run"), "--episodes", "10"],
    }[command]
    status, err = run_cli(argv, capsys)
    line = one_error_line(err, command)
    assert status == 2
    assert f"{tmp_path / 'no/such/dir/mlp/qdsnn'}: the shipped traces of {MLP}" in line
    assert "--traces synthetic" in line
    assert not (tmp_path / "run").exists()


def test_broken_shipped_manifest_under_auto_is_an_error(tmp_path, monkeypatch):
    folder = tmp_path / "mlp" / "qdsnn"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{not json")
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    message = r"the shipped traces of SPARQExit-MLP-v0 in .* are broken: .*not valid JSON"
    with pytest.raises(TraceError, match=message):
        EnvConfig(MLP).load_traces("test")


def test_synthetic_traces_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARQ_PRETRAINED", str(tmp_path))
    assert EnvConfig(MLP, traces="synthetic").load_traces("test").meta["backbone"] == "synthetic-mlp"
    assert EnvConfig(MLP).source() == "pretrained"


# ---- 2. two validation paths: the CLI flags go through the same checks -------------------------

FLAG_ERRORS = [
    (["--alpha", "nan"], "alpha must be a finite number >= 0, got nan"),
    (["--alpha", "-0.5"], "alpha must be a finite number >= 0, got -0.5"),
    (["--n-bins", "0"], "n_bins must be an integer in [1, 1000], got 0"),
    (["--n-bins", "1000000000"], "n_bins must be an integer in [1, 1000], got 1000000000"),
    (["--episodes", "0"], "total_episodes (--episodes) must be an integer in [1, 10000000], got 0"),
    (["--gamma", "5"], "gamma must be a finite number in [0, 1], got 5.0"),
    (["--gamma", "nan"], "gamma must be a finite number in [0, 1], got nan"),
    (["--seed", "-1"], "seed must be an integer >= 0, got -1"),
    (["--timesteps", "10"], "--timesteps 10: applies to dqn, ppo and maskable-ppo only, not to q-learning"),
]


@pytest.mark.parametrize(("flags", "message"), FLAG_ERRORS)
def test_train_flags_are_checked_before_the_work(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    status, err = run_cli(["train", "q-learning", "--env", MLP, "--traces", "synthetic", "--out", str(out),
                           *flags], capsys)
    assert status == 2
    assert one_error_line(err, "train").endswith(message)
    assert not out.exists()


def test_numpy_alpha_is_accepted_and_negative_alpha_refused():
    assert ExitSettings(alpha=np.float32(0.3)).alpha == pytest.approx(0.3)
    with pytest.raises(SettingsError, match=r"alpha must be a finite number >= 0, got -0.1"):
        gym.make(MLP, alpha=-0.1)


# ---- 3. traces that are well-formed but wrong -------------------------------------------------


def save_with(tmp_path: Path, edit_arrays: Any = None, edit_manifest: Any = None) -> Path:
    """A valid 20-sample trace directory, then its arrays and manifest edited (sha256 kept right)."""
    traces = make_synthetic_traces(20, seed=3, split="test")
    folder = tmp_path / "traces"
    traces.save(folder)
    arrays = traces.arrays()
    if edit_arrays is not None:
        edit_arrays(arrays)
        with open(folder / "test.npz", "wb") as handle:
            np.savez(handle, **arrays)
    manifest = json.loads((folder / "manifest.json").read_text())
    from sparq_gym.io import sha256_file

    manifest["splits"]["test"]["sha256"] = sha256_file(folder / "test.npz")
    if edit_manifest is not None:
        edit_manifest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _set(key: str, value: Any) -> Any:
    return lambda manifest: manifest.__setitem__(key, value)


def _set_split(key: str, value: Any) -> Any:
    return lambda manifest: manifest["splits"]["test"].__setitem__(key, value)


def _reverse_exits(arrays: dict[str, np.ndarray]) -> None:
    arrays["exit_counts"] = np.ascontiguousarray(arrays["exit_counts"][:, ::-1])


def _unnormalise(arrays: dict[str, np.ndarray]) -> None:
    arrays["probs"] = (arrays["probs"].astype(np.float32) * 0.5).astype(np.float16)


def _huge(arrays: dict[str, np.ndarray]) -> None:
    arrays["exit_counts"] = arrays["exit_counts"] + np.int64(2**62)
    arrays["full_counts"] = arrays["full_counts"] + np.int64(2**62)


def _zero_samples(arrays: dict[str, np.ndarray]) -> None:
    for name in arrays:
        arrays[name] = arrays[name][:0]


TRACE_ERRORS = [
    ("exit counts reversed along the exits", _reverse_exits, None,
     r"exit_counts must be cumulative \(non-decreasing along the exits\); sample \d+, counter 0: exit 1 has"),
    ("swapped counter names", None, _set("counters", ["synaptic_ops", "macs", *COUNTER_NAMES[2:]]),
     r"counters \['synaptic_ops', 'macs', .*\] are not in the format's order"),
    ("probabilities that do not sum to one", _unnormalise, None,
     r"probs of sample \d+, exit \d sum to .*must sum to 1 within 0.01"),
    ("exit names of the wrong length", None, _set("exit_names", ["exit1", "final"]),
     r"exit_names lists 2 names \(\['exit1', 'final'\]\), the arrays have 3"),
    ("counts near 2**62", _huge, None, r"exit_counts must lie in \[0, 2\*\*53\), got \[4611686"),
    ("split file outside the trace directory", None, _set_split("file", "../outside.npz"),
     r"file '\.\./outside\.npz' lies outside the trace directory"),
    ("sha256 null", None, _set_split("sha256", None), r"'sha256' must be 64 lowercase hex digits, got None"),
    ("sha256 a number", None, _set_split("sha256", 12345),
     r"'sha256' must be 64 lowercase hex digits, got 12345"),
    ("split file not a string", None, _set_split("file", ["test.npz"]),
     r"'file' must be a file name string, got \['test\.npz'\]"),
    ("zero samples in the manifest", None, _set_split("n_samples", 0),
     r"'n_samples' must be an integer >= 1, got 0"),
    ("a split with zero samples", _zero_samples, None, r"the split holds 0 samples, expected at least 1"),
    ("counters not a list", None, _set("counters", "macs"), r"'counters' must be a list, got 'macs'"),
]


@pytest.mark.parametrize(("case", "edit_arrays", "edit_manifest", "message"), TRACE_ERRORS,
                         ids=[row[0] for row in TRACE_ERRORS])
def test_wrong_traces_are_refused(case, edit_arrays, edit_manifest, message, tmp_path):
    folder = save_with(tmp_path, edit_arrays, edit_manifest)
    with pytest.raises(TraceError, match=message):
        gym.make("SPARQExit-v0", trace_dir=str(folder), split="test")


def test_manifest_not_utf8(tmp_path):
    folder = save_with(tmp_path)
    (folder / "manifest.json").write_bytes(b'{"schema_version": 1, "x": "\xff\xfe"}')
    with pytest.raises(TraceError, match=r"manifest\.json: not valid JSON \(not UTF-8 text"):
        TraceSet.load(folder)


def test_manifest_that_is_a_folder(tmp_path):
    (tmp_path / "manifest.json").mkdir()
    with pytest.raises(TraceError, match=r"manifest\.json: is a folder, expected the trace manifest file"):
        TraceSet.load(tmp_path)


def test_npy_under_an_npz_name(tmp_path):
    folder = save_with(tmp_path)
    with open(folder / "test.npz", "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(TraceError, match=r"test\.npz: not a readable \.npz archive .*single \.npy array"):
        TraceSet.load(folder, verify=False)


def test_trace_dir_one_level_too_high(tmp_path):
    (tmp_path / "qdsnn").mkdir()
    make_synthetic_traces(10, split="test").save(tmp_path / "qdsnn")
    (tmp_path / "manifest.json").write_text(json.dumps({"backbone": "mlp", "table1": {}}))
    message = r"looks like a backbone folder; its subfolders \['qdsnn'\] are trace"
    with pytest.raises(TraceError, match=message):
        gym.make("SPARQExit-v0", trace_dir=str(tmp_path))
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(TraceError, match=r"holds no manifest\.json: .*subfolders \['qdsnn'\]"):
        gym.make("SPARQExit-v0", trace_dir=str(tmp_path))


# ---- 4. wrong value types: reset, settings, policies ------------------------------------------


def test_reset_options_must_be_a_dict():
    env = gym.make(MLP, traces=make_synthetic_traces(10, split="train"))
    with pytest.raises(SettingsError, match=r"options must be None or a dict .*got 'sample_index'"):
        env.reset(options="sample_index")


def test_vector_reset_seed_must_be_an_integer():
    envs = gym.make_vec(MLP, num_envs=2, vectorization_mode="vector_entry_point",
                        traces=make_synthetic_traces(10, split="train"))
    message = r"seed must be None, an integer >= 0 or a list of those, got 1\.5"
    with pytest.raises(SettingsError, match=message):
        envs.reset(seed=1.5)


def test_trace_dir_of_the_wrong_type():
    message = r"trace_dir must be a folder path and split a name, got 5 and 'train'"
    with pytest.raises(TraceError, match=message):
        gym.make(MLP, trace_dir=5)


def test_huge_n_bins():
    message = r"n_bins must be an integer in \[1, 1000\], got 9223372036854775808"
    with pytest.raises(SettingsError, match=message):
        gym.make(MLP, n_bins=2**63)


@pytest.mark.parametrize(("answer", "shown"), [(None, "None"), ((1, 0), r"\(1, 0\)"), (2, "2"), ("1", "'1'")])
def test_policy_act_with_a_wrong_answer(answer, shown):
    config = EnvConfig(MLP, traces="synthetic")
    policy = CallablePolicy(lambda obs: answer)
    message = rf"policy '<lambda>': act returned {shown}; expected one action, 0 \(CONTINUE\) or 1 \(EXIT\)"
    with pytest.raises(PolicyError, match=message):
        decide_exits(policy, config.tables("test"))


def test_policy_act_batch_of_the_wrong_shape():
    class Batched:
        name = "batched"

        def act(self, observation: Any) -> int:
            return 0

        def act_batch(self, observations: Any) -> Any:
            return np.zeros((len(observations), 2), dtype=np.int64)

    message = r"policy 'batched': act_batch returned int64 array of shape \(10000, 2\)"
    with pytest.raises(PolicyError, match=message):
        decide_exits(Batched(), EnvConfig(MLP, traces="synthetic").tables("test"))


@pytest.mark.parametrize(("record", "message"), [
    ([1, 2], r"policy\.json: expected a JSON object, got list"),
    ({"format": "table"}, r"policy\.npz: the table of the saved policy is missing"),
    ({"format": "pickle"}, r"'format' must be one of \['table', 'sb3'\], got 'pickle'"),
    ({"format": "table", "files": "x"}, r"'files' must map file names to sha256 strings"),
])
def test_malformed_policy_json(record, message, tmp_path):
    (tmp_path / "policy.json").write_text(json.dumps(record))
    with pytest.raises((PolicyError, FileNotFoundError), match=message):
        load_policy(str(tmp_path), EnvConfig(MLP, traces="synthetic"))


def test_policy_npz_without_actions(tmp_path):
    np.savez(tmp_path / "policy.npz", other=np.zeros(2))
    (tmp_path / "policy.json").write_text(json.dumps({"format": "table"}))
    with pytest.raises(PolicyError, match=r"policy\.npz: lacks the array 'actions'; it holds \['other'\]"):
        load_policy(str(tmp_path), EnvConfig(MLP, traces="synthetic"))


# ---- 5. output errors surface before the work -------------------------------------------------

OUT_COMMANDS = {
    "train": ["train", "q-learning", "--env", MLP, "--traces", "synthetic", "--episodes", "10"],
    "benchmark": ["benchmark", "--quick", "--traces", "synthetic", "--no-plots", "--no-progress"],
    "report": ["report", "mlp"],
}


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_out_that_cannot_be_a_folder(command, where, tmp_path, capsys, monkeypatch):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the work started")

    from sparq_gym.reports import paper

    monkeypatch.setattr(paper, "build_report", fail)
    monkeypatch.setattr(q_learning, "train_on_tables", fail)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" if where == "a file" else tmp_path / "file" / "sub"
    status, err = run_cli([*OUT_COMMANDS[command], "--out", str(out)], capsys)
    expected = "is a file, expected a folder" if where == "a file" else "is a file, so no folder can be made"
    assert status == 2 and expected in one_error_line(err, command)


def test_evaluate_out_that_is_a_folder(tmp_path, capsys):
    status, err = run_cli(["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", "always-final",
                           "--out", str(tmp_path)], capsys)
    assert status == 2 and "is a folder, expected a file name" in one_error_line(err, "evaluate")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out(tmp_path, capsys):
    (tmp_path / "ro").mkdir(mode=0o555)
    status, err = run_cli([*OUT_COMMANDS["train"], "--out", str(tmp_path / "ro" / "run")], capsys)
    assert status == 2 and "is not writable" in one_error_line(err, "train")


def test_read_only_out_message(tmp_path, monkeypatch):
    from sparq_gym.errors import OutputError
    from sparq_gym.io import check_output_dir

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match=rf"--out '{tmp_path}/run': {tmp_path} is not writable"):
        check_output_dir(tmp_path / "run")


def test_oserror_is_one_line(tmp_path, capsys, monkeypatch):
    def denied(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(q_learning, "train", denied)
    status, err = run_cli([*OUT_COMMANDS["train"], "--out", str(tmp_path / "run")], capsys)
    assert status == 2
    assert one_error_line(err, "train").endswith(f"error: {tmp_path / 'x'}: Permission denied")


# ---- 6. interrupted runs ----------------------------------------------------------------------


def test_keyboard_interrupt_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(q_learning, "train", interrupted)
    status, err = run_cli([*OUT_COMMANDS["train"], "--out", str(tmp_path / "run")], capsys)
    assert status == 130
    assert err.strip().splitlines() == ["sparq: interrupted (the previous output, if any, is left as it was)"]


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_in_a_real_process(tmp_path):
    code = ("import time\nfrom sparq_gym.cli.main import main\nimport agents.learners.q_learning as q\n"
            "q.train = lambda *a, **k: (print('started', flush=True), time.sleep(60))\n"
            f"raise SystemExit(main(['train', 'q-learning', '--traces', 'synthetic', '--env', '{MLP}', "
            f"'--out', {str(tmp_path / 'run')!r}]))\n")
    # A shell starts a background job (`cmd &`, as CI harnesses may run the suite) with SIGINT
    # ignored, and an ignored signal stays ignored across fork and exec: Python then installs no
    # KeyboardInterrupt handler and the child never sees the interrupt (the test hung for its 60 s).
    # The child gets the default disposition, as a terminal gives it, whatever this process has.
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_default_sigint)
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().splitlines() == ["sparq: interrupted (the previous output, if any, is left as it was)"]


def test_interrupted_train_leaves_the_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = q_learning.Args(env_id=MLP, traces="synthetic", seed=0, out=str(out)).with_budget(300)
    q_learning.train(args)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["learning_curve.json", "policy.json", "policy.npz"]

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # as if the run died after policy.npz and policy.json

    monkeypatch.setattr(q_learning, "atomic_write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        q_learning.train(replace(args, seed=1))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_killed_run_leftovers_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    (tmp_path / f".run.{pid}.abc.tmp").mkdir()  # a half-written output of a killed run
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "old").write_text("previous")
    (tmp_path / f".run.{pid}.def.old.tmp").mkdir()  # a previous output moved aside just before a kill
    with atomic_directory(tmp_path / "run") as staging:
        (staging / "new").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["new"]


def test_moved_aside_output_is_put_back(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    aside = tmp_path / f".run.{int(dead.stdout)}.x.old.tmp"
    aside.mkdir()
    (aside / "policy.json").write_text("{}")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "run"):
        raise RuntimeError("the next run fails")
    assert (tmp_path / "run" / "policy.json").read_text() == "{}"


def test_every_error_type_is_a_sparq_error():
    from sparq_gym import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), SparqError) and issubclass(getattr(errors, name), ValueError)


# ---- a name that says one thing while another runs (issue 25, class 1) ------------------------


def _shipped(folder: str) -> str:
    from sparq_gym.paths import pretrained_root

    path = pretrained_root() / folder
    if not (path / "manifest.json").exists():
        pytest.skip(f"no shipped {folder}")
    return str(path)


@pytest.mark.parametrize(
    ("env_id", "folder", "held"),
    [("SPARQExit-MLP-v0", "lenet/qdsnn", "lenet"), ("SPARQDepthTime-MLP-v0", "lenet/qdsnn_time", "lenet")],
)
def test_a_backbone_id_refuses_another_backbones_trace_folder(env_id, folder, held):
    import gymnasium as gym

    with pytest.raises(SettingsError) as err:
        gym.make(env_id, trace_dir=_shipped(folder))
    assert f"holds traces of backbone '{held}' (network 'qdsnn'), but this id replays 'mlp'" in str(err.value)
    assert "SPARQExit-LeNet-v0" in str(err.value)


def test_network_that_contradicts_the_trace_folder_is_refused():
    import gymnasium as gym

    expected = "holds traces of network 'qdsnn', but network='spquant' was asked"
    with pytest.raises(SettingsError, match=expected):
        gym.make("SPARQExit-v0", trace_dir=_shipped("mlp/qdsnn"), network="spquant")


def test_train_refuses_another_backbones_folder_before_saving(tmp_path, capsys):
    argv = ["train", "q-learning", "--env", MLP, "--trace-dir", _shipped("lenet/qdsnn"), "--episodes", "10",
            "--out", str(tmp_path / "run")]
    status, err = run_cli(argv, capsys)
    assert status == 2
    assert "holds traces of backbone 'lenet'" in one_error_line(err, "train")
    assert not (tmp_path / "run").exists()


# ---- options that are not read (issue 25, class 2) ---------------------------------------------


@pytest.mark.parametrize("env_id", ["SPARQExit-MLP-v0", "SPARQDepthTime-MLP-v0"])
def test_a_misspelt_reset_option_is_refused(env_id):
    import gymnasium as gym

    env = gym.make(env_id)
    with pytest.raises(SettingsError, match=r"options has unknown keys \['sample_idx'\]; the only option is"):
        env.reset(options={"sample_idx": 3})
    vector = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(SettingsError, match="unknown keys"):
        vector.reset(options={"sample_idx": 3})


@pytest.mark.parametrize("options", ["x", "sample_index", 3])
def test_depth_time_single_env_checks_its_options(options):
    import gymnasium as gym

    env = gym.make("SPARQDepthTime-MLP-v0")
    with pytest.raises(SettingsError, match="options must be None or a dict such as"):
        env.reset(options=options)


@pytest.mark.parametrize("env_id", ["SPARQExit-MLP-v0", "SPARQDepthTime-MLP-v0"])
def test_render_without_a_render_mode_warns_as_gymnasium_does(env_id):
    import gymnasium as gym

    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="You are calling render method without specifying any render mode"):
        assert env.render() is None


@pytest.mark.parametrize(("value", "expected"), [("", "--tensorboard must name a folder, got ''"),
                                                  ("FILE", "is a file; expected a folder")])
def test_tensorboard_flag_is_checked_before_training(tmp_path, capsys, value, expected):
    if value == "FILE":
        value = str(tmp_path / "file")
        (tmp_path / "file").write_text("x")
    argv = ["train", "q-learning", "--env", MLP, "--traces", "synthetic", "--episodes", "10",
            "--out", str(tmp_path / "run"), "--tensorboard", value]
    status, err = run_cli(argv, capsys)
    assert status == 2 and expected in one_error_line(err, "train")
    assert not (tmp_path / "run").exists()


# ---- hyperparameter files, policy files (issue 25, classes 3 and 5) ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default: {n_timesteps: 10\n", "not valid YAML"),
        ("- 1\n- 2\n", "expected RL Zoo's format, a mapping of environment id -> hyperparameters, got list"),
        ("", "got an empty file"),
        ("default: {n_timesteps: 100, learning_rat: 0.1}\n", "'learning_rat' is not an argument of ppo "
                                                            "(did you mean 'learning_rate'?)"),
        ("default: {learning_rate: 0.1}\n", "lacks n_timesteps (the training budget, RL Zoo's key)"),
        ("default: {n_timesteps: 100, batch_size: -5}\n", "batch_size must be an integer >= 1, got -5"),
        ("default: {n_timesteps: 100, env_kwargs: {n_bins: 0}}\n", "env_kwargs may set obs_type only"),
        ("default: {n_timesteps: 100, buffer_size: -5}\n", "'buffer_size' is not an argument of ppo"),
    ],
)
def test_a_broken_hyperparameter_file_is_one_line_before_any_work(tmp_path, capsys, text, expected):
    (tmp_path / "h.yml").write_text(text)
    argv = ["train", "ppo", "--env", MLP, "--traces", "synthetic", "--hyperparams", str(tmp_path / "h.yml"),
            "--out", str(tmp_path / "run")]
    status, err = run_cli(argv, capsys)
    line = one_error_line(err, "train")
    assert status == 2 and str(tmp_path / "h.yml") in line and expected in line
    assert not (tmp_path / "run").exists()


def test_a_policy_file_with_a_syntax_error_is_one_line(tmp_path, capsys):
    (tmp_path / "p.py").write_text("def act(obs):\n    return 1 +\n")
    argv = ["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", str(tmp_path / "p.py")]
    status, err = run_cli(argv, capsys)
    assert status == 2 and f"{tmp_path / 'p.py'}:2: SyntaxError" in one_error_line(err, "evaluate")


def test_a_policy_class_that_needs_arguments_is_one_line(tmp_path, capsys):
    (tmp_path / "p.py").write_text("class Policy:\n    def __init__(self, k):\n        self.k = k\n"
                                   "    def act(self, obs):\n        return 1\n")
    argv = ["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", str(tmp_path / "p.py")]
    status, err = run_cli(argv, capsys)
    line = one_error_line(err, "evaluate")
    assert status == 2 and "the class cannot be made without arguments" in line


# ---- messages a user can act on (issue 25, class 5) --------------------------------------------


def test_a_missing_zip_says_no_such_file(tmp_path, capsys):
    argv = ["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", str(tmp_path / "missing.zip")]
    status, err = run_cli(argv, capsys)
    assert status == 2 and f"{tmp_path / 'missing.zip'}: no such file (a model .zip was named)" in err


def test_a_zip_holding_only_data_is_not_a_loadable_model(tmp_path, capsys):
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.zip", "w") as archive:
        archive.writestr(
            "data", '{"policy_class": {"__module__": "stable_baselines3.common.policies"}, "clip_range": 0.2}'
        )
    argv = ["evaluate", "--env", MLP, "--traces", "synthetic", "--policy", str(tmp_path / "m.zip")]
    status, err = run_cli(argv, capsys)
    assert status == 2 and "not a loadable stable_baselines3:PPO model" in one_error_line(err, "evaluate")


@pytest.mark.parametrize(
    ("env_id", "expected"),
    [
        ("SPARQExit-v0", "trace_dir must name a trace folder, got ''"),
        ("SPARQDepthTime-v0", "trace_dir must name a trace folder, got ''"),
    ],
)
def test_an_empty_trace_dir_is_refused(env_id, expected):
    import gymnasium as gym

    with pytest.raises(SettingsError, match=expected):
        gym.make(env_id, trace_dir="")


def test_each_family_names_the_other_familys_folder():
    import gymnasium as gym

    expected = r"holds depth x time traces .* replay them with SPARQDepthTime-v0"
    with pytest.raises(SettingsError, match=expected):
        gym.make("SPARQExit-v0", trace_dir=_shipped("mlp/qdsnn_time"))
    with pytest.raises(SettingsError, match=r"holds v0 traces .* replay them with SPARQExit-v0"):
        gym.make("SPARQDepthTime-v0", trace_dir=_shipped("mlp/qdsnn"))


def test_a_bogus_autoreset_mode_lists_the_modes():
    import gymnasium as gym

    with pytest.raises(SettingsError, match=r"autoreset_mode must be one of \['NextStep', 'SameStep'\]"):
        gym.make_vec(
            MLP,
            num_envs=2,
            vectorization_mode="vector_entry_point",
            autoreset_mode="bogus",
        )


def test_a_network_without_depth_time_traces_names_those_there_are():
    import gymnasium as gym

    _shipped("mlp/qdsnn_time")
    with pytest.raises(FileNotFoundError, match=r"the shipped depth-time traces of 'mlp' are for network \["):
        gym.make("SPARQDepthTime-MLP-v0", network="dynamic_ann")


def test_spikes_on_an_ann_says_an_ann_has_no_spikes():
    import gymnasium as gym

    _shipped("mlp/dynamic_ann")
    with pytest.raises(ValueError, match="an ANN has no spikes"):
        gym.make(MLP, network="dynamic_ann", cost="spikes")


def test_transposed_probs_are_named_transposed(tmp_path):
    from sparq_gym.traces import TraceSet, make_synthetic_traces

    traces = make_synthetic_traces(20, seed=0, split="train")
    with pytest.raises(TraceError, match=r"probs looks transposed \(N, C, E\)"):
        TraceSet(**{**traces.arrays(), "probs": traces.probs.transpose(0, 2, 1).copy()}, meta=traces.meta,
                 split="train")


def test_rl_zoo_run_files_that_are_not_mappings_are_one_line(tmp_path, capsys):
    from agents.integrations.zoo import read_zoo_yaml

    (tmp_path / "args.yml").write_text("env: [unclosed\n")
    with pytest.raises(SparqError, match=r"args\.yml: not valid YAML"):
        read_zoo_yaml(tmp_path / "args.yml")
    (tmp_path / "args.yml").write_text("- env\n- x\n")
    with pytest.raises(SparqError, match=r"args\.yml: expected RL Zoo's mapping of settings, got list"):
        read_zoo_yaml(tmp_path / "args.yml")


def test_bootstrap_reps_zero_is_refused_before_any_run(tmp_path, capsys):
    argv = ["benchmark", "--quick", "--traces", "synthetic", "--out", str(tmp_path / "b"),
            "--bootstrap-reps", "0"]
    status, err = run_cli(argv, capsys)
    assert status == 2 and "bootstrap_reps (--bootstrap-reps) must be an integer >= 1, got 0" in err
    assert not (tmp_path / "b").exists()


def test_benchmark_checks_every_policy_before_its_first_run(tmp_path, capsys):
    (tmp_path / "p.py").write_text("def act(obs):\n    return 1 +\n")
    argv = ["benchmark", "--envs", MLP, "--traces", "synthetic", "--out", str(tmp_path / "b"), "--no-plots",
            "--no-progress", "--policy", str(tmp_path / "p.py")]
    status, err = run_cli(argv, capsys)
    assert status == 2 and "SyntaxError" in one_error_line(err, "benchmark")
    assert not (tmp_path / "b").exists()


def test_dqn_buffer_size_minus_five_is_refused_not_clamped(tmp_path, capsys):
    (tmp_path / "h.yml").write_text("default: {n_timesteps: 100, buffer_size: -5}\n")
    argv = ["train", "dqn", "--env", MLP, "--traces", "synthetic", "--hyperparams", str(tmp_path / "h.yml"),
            "--out", str(tmp_path / "run")]
    status, err = run_cli(argv, capsys)
    assert status == 2 and "buffer_size must be an integer >= 1, got -5" in one_error_line(err, "train")


@pytest.mark.parametrize("mode", [1, 2.5, b"ansi"])
def test_a_render_mode_that_is_not_a_string_is_one_clear_error(mode):
    expected = r"render_mode must be None or one of \['ansi', 'rgb_array'\], got"
    with pytest.raises(SettingsError, match=expected):
        gym.make(MLP, render_mode=mode)


def test_benchmark_checks_a_wrong_table_and_a_missing_file_before_its_first_run(tmp_path, capsys):
    from agents.policy import TablePolicy, save_table_policy

    table = TablePolicy(np.zeros((2, 5), dtype=np.int64))
    save_table_policy(tmp_path / "t", table, kind="table", metadata={})
    for spec, expected in ((str(tmp_path / "t"), "policy table has shape (2, 5)"),
                           (str(tmp_path / "missing.py"), "no such file (a policy file was named)")):
        argv = ["benchmark", "--envs", MLP, "--traces", "synthetic", "--out", str(tmp_path / "b"),
                "--no-plots", "--no-progress", "--policy", spec]
        status, err = run_cli(argv, capsys)
        assert status == 2 and expected in one_error_line(err, "benchmark")
        assert not (tmp_path / "b").exists()
