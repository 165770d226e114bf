"""RL Zoo on the SPARQ ids from agents/hyperparams/<algo>.yml, and any SB3 / RL Zoo zip ranked by sparq."""

from __future__ import annotations

import json
import sys

import gymnasium as gym
import numpy as np
import pytest

from agents.common import EnvConfig
from agents.integrations.zoo import load_zip_policy, zip_algorithm, zip_env_record
from agents.learners import sb3
from sparq_gym.cli import main
from sparq_gym.envs.settings import ExitSettings

ENV_ID = "SPARQExit-LeNet-v0"


def _untrained(algo: str, path, **env_kwargs):
    """An SB3 model saved by ``model.save`` (no record beside it)."""
    import sparq_gym  # noqa: F401

    cls = {"ppo": "PPO", "dqn": "DQN", "a2c": "A2C"}[algo]
    import stable_baselines3

    env = gym.make(ENV_ID, **env_kwargs)
    model = getattr(stable_baselines3, cls)("MlpPolicy", env, seed=0, device="cpu")
    model.save(path)
    return path


def test_rl_zoo_trains_from_the_hyperparameter_file_and_sparq_ranks_its_zip(tmp_path, monkeypatch, capsys):
    rl_zoo_train = pytest.importorskip("rl_zoo3.train")
    argv = [
        "train",
        "--algo",
        "dqn",
        "--env",
        ENV_ID,
        "--gym-packages",
        "sparq_gym",
        "-conf",
        str(sb3.hyperparams_file("dqn")),
        "-n",
        "300",
        "-f",
        str(tmp_path),
        "--seed",
        "0",
        "--env-kwargs",
        "alpha:0.5",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    rl_zoo_train.train()
    run = tmp_path / "dqn" / f"{ENV_ID}_1"
    config = json.loads(json.dumps(_zoo_yaml(run / ENV_ID / "config.yml")))
    file_values = sb3.load_hyperparams(ENV_ID, "dqn")
    assert {k: v for k, v in config.items() if k != "env_kwargs"} == {
        k: v for k, v in file_values.items() if k != "env_kwargs"
    }
    # the zip: algorithm from its data, environment from args.yml (--env-kwargs over config.yml)
    archive = run / f"{ENV_ID}.zip"
    assert zip_algorithm(archive) == "stable_baselines3:DQN"
    record = zip_env_record(archive)
    assert record["env_id"] == ENV_ID and record["alpha"] == 0.5  # RL Zoo: --env-kwargs replace the file's
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(archive), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["alpha"] == 0.5 and result["n_samples"] == 10_000 and -1.0 <= result["mean_return"] <= 1.5


def _zoo_yaml(path):
    from agents.integrations.zoo import read_zoo_yaml

    return read_zoo_yaml(path)


def test_sparq_train_reads_the_same_file(lenet_config):
    hyper = sb3.load_hyperparams(ENV_ID, "dqn")
    result = sb3.train(sb3.Args(algo="dqn", traces="synthetic", n_timesteps=200))
    model = result.policy.model
    for key in (
        "batch_size",
        "buffer_size",
        "learning_starts",
        "gamma",
        "target_update_interval",
        "exploration_final_eps",
        "exploration_fraction",
        "gradient_steps",
        "learning_rate",
    ):
        assert getattr(model, key) == hyper[key], key
    assert model.train_freq.frequency == hyper["train_freq"]
    assert model.policy.net_arch == hyper["policy_kwargs"]["net_arch"]
    assert result.policy.obs_type == hyper["env_kwargs"]["obs_type"]


@pytest.mark.parametrize(
    ("algo", "expected"),
    [("ppo", "stable_baselines3:PPO"), ("a2c", "stable_baselines3:A2C"), ("dqn", "stable_baselines3:DQN")],
)
def test_algorithm_is_read_from_the_zip(tmp_path, algo, expected):
    assert zip_algorithm(_untrained(algo, tmp_path / f"{algo}.zip")) == expected


def test_plain_sb3_zip_is_evaluated_with_its_observation_type(tmp_path, capsys):
    archive = _untrained("ppo", tmp_path / "model.zip", obs_type="box", split="train")
    assert zip_env_record(archive) is None  # nothing recorded: --env is needed
    policy = load_zip_policy(archive, EnvConfig(ENV_ID, traces="synthetic"))
    assert policy.obs_type == "box"
    argv = ["evaluate", "--env", ENV_ID, "--traces", "synthetic", "--policy", str(archive), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["n_samples"] == 10_000


def test_observation_space_mismatch_is_a_clear_error(tmp_path):
    archive = _untrained("ppo", tmp_path / "model.zip")  # MultiDiscrete([2, 10])
    with pytest.raises(ValueError, match="--n-bins"):
        load_zip_policy(archive, EnvConfig(ENV_ID, traces="synthetic", settings=ExitSettings(n_bins=5)))


def test_sparq_train_zip_uses_its_policy_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "dqn",
                "--env",
                ENV_ID,
                "--traces",
                "synthetic",
                "--timesteps",
                "200",
                "--n-bins",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(out / "model.zip"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_bins"] == 5 and result["traces"] == "synthetic"


def test_benchmark_ranks_a_zip_on_its_recorded_environment_only(tmp_path):
    from agents.benchmark.run import BenchmarkConfig, run_benchmark

    archive = _untrained("ppo", tmp_path / "SPARQExit-MLP-v0.zip")
    (tmp_path / "SPARQExit-MLP-v0").mkdir()
    (tmp_path / "SPARQExit-MLP-v0" / "args.yml").write_text("env: SPARQExit-MLP-v0\nenv_kwargs: null\n")
    cfg = BenchmarkConfig(
        out=str(tmp_path / "bench"),
        envs=("SPARQExit-MLP-v0", ENV_ID),
        seeds=(0,),
        agents=(),
        extra_policies=(str(archive),),
        traces="synthetic",
        plots=False,
        progress=False,
        bootstrap_reps=50,
    )
    record = run_benchmark(cfg)
    rows = [r for r in record["aggregate"] if r["policy"] == str(archive)]
    assert [r["env_id"] for r in rows] == ["SPARQExit-MLP-v0"]
    assert rows[0]["iqm"] == rows[0]["normalized_score"]  # one run: its own IQM


def test_rl_zoo_trains_maskable_ppo_on_a_depth_time_id_from_its_file(tmp_path, monkeypatch, capsys):
    """``python -m agents.integrations.rl_zoo --algo ppo_mask ...``: RL Zoo's own training from
    ppo_mask.yml with ``--eval-freq`` (the evaluation env gets the YAML's env_kwargs and the masks),
    then ``enjoy`` with the masks and ``sparq evaluate`` of the zip, masks honoured."""
    pytest.importorskip("rl_zoo3.train")
    pytest.importorskip("sb3_contrib")
    from agents.integrations import rl_zoo

    env_id = "SPARQDepthTime-LeNet-v0"
    from sparq_gym.envs.depth_time_env import time_trace_dir

    if not (time_trace_dir("lenet") / "train.npz").exists():
        pytest.skip("no shipped depth x time traces for LeNet")
    argv = [
        "--algo",
        "ppo_mask",
        "--env",
        env_id,
        "--gym-packages",
        "sparq_gym",
        "-conf",
        str(sb3.HYPERPARAMS_DIR / "ppo_mask.yml"),
        "-n",
        "256",
        "-f",
        str(tmp_path),
        "--seed",
        "0",
        "--eval-freq",
        "128",
        "--eval-episodes",
        "5",
        "--hyperparams",
        "n_steps:16",
        "batch_size:32",
    ]
    monkeypatch.setattr(sys, "argv", ["rl_zoo", *argv])
    rl_zoo.main()
    run = tmp_path / "ppo_mask" / f"{env_id}_1"
    assert zip_algorithm(run / f"{env_id}.zip") == "sb3_contrib:MaskablePPO"
    config = _zoo_yaml(run / env_id / "config.yml")
    assert config["env_kwargs"] == {"obs_type": "box"} and config["n_timesteps"] == 20000
    evaluations = np.load(run / "evaluations.npz")  # written by the masked evaluation callback
    assert evaluations["results"].shape == (2, 5)
    returns = rl_zoo.enjoy_masked(["--env", env_id, "-f", str(tmp_path), "-n", "40"])
    assert returns and all(-1.0 <= r <= 1.3 for r in returns)
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(run / f"{env_id}.zip"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env_id"] == env_id and result["n_samples"] == 10_000
    assert result["invalid_actions"] == 0  # MaskablePPO acted within the masks


def test_a_vecnormalize_zip_is_evaluated_with_its_statistics(tmp_path, capsys):
    """A PPO trained under VecNormalize, its statistics saved beside the zip as RL Zoo saves them:
    ``sparq evaluate`` equals a hand loop that normalizes every observation with them."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    import sparq_gym  # noqa: F401

    config = EnvConfig(ENV_ID, traces="synthetic")
    venv = VecNormalize(DummyVecEnv([lambda: config.make_env("train", "box")]), norm_reward=False)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0, device="cpu").learn(256)
    run = tmp_path / "run"
    (run / ENV_ID).mkdir(parents=True)
    model.save(run / f"{ENV_ID}.zip")
    venv.save(run / ENV_ID / "vecnormalize.pkl")
    stats = VecNormalize.load(
        str(run / ENV_ID / "vecnormalize.pkl"), DummyVecEnv([lambda: config.make_env("test", "box")])
    )
    env = config.make_env("test", "box")
    returns = []
    for i in range(env.unwrapped.tables.n_samples):
        obs, _ = env.reset(options={"sample_index": i})
        while True:
            action, _ = model.predict(stats.normalize_obs(obs), deterministic=True)
            obs, reward, terminated, _, _ = env.step(int(action))
            if terminated:
                returns.append(reward)
                break
    argv = [
        "evaluate",
        "--env",
        ENV_ID,
        "--traces",
        "synthetic",
        "--policy",
        str(run / f"{ENV_ID}.zip"),
        "--json",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mean_return"] == np.mean(returns)
    assert "VecNormalize" in load_zip_policy(run / f"{ENV_ID}.zip", config).name
