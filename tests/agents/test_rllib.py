"""RLlib on the SPARQ ids (agents/rllib.py): Ray's registry, the policy adapter, a short PPO run."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from agents.common import EnvConfig
from agents.evaluation import evaluate_policy
from agents.integrations.rllib import RLlibPolicy, ppo_config, register_rllib_envs
from agents.loading import load_policy
from agents.references.baselines import make_baseline
from sparq_gym.errors import PolicyError

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")


class _ThresholdModule:
    """A stand-in RL module on the box observation: EXIT iff the confidence (entry 0) is >= 0.5."""

    def __init__(self, observation_space: spaces.Space) -> None:
        self.observation_space = observation_space

    def forward_inference(self, batch: dict) -> dict:
        confidence = batch["obs"][:, 0]
        says_exit = (confidence >= 0.5).float()
        return {"action_dist_inputs": torch.stack([1.0 - says_exit, says_exit], dim=1)}


def test_every_sparq_id_is_in_rays_registry():
    from ray.tune.registry import ENV_CREATOR, _global_registry

    ids = register_rllib_envs()
    assert {"SPARQExit-MLP-v0", "SPARQExit-LeNet-v0", "SPARQExit-AlexNet-v0", "SPARQExit-v0"} <= set(ids)
    assert all(_global_registry.contains(ENV_CREATOR, env_id) for env_id in ids)
    env = _global_registry.get(ENV_CREATOR, "SPARQExit-LeNet-v0")({"obs_type": "box"})
    assert isinstance(env.observation_space, spaces.Box) and env.unwrapped.spec.id == "SPARQExit-LeNet-v0"


def test_adapter_acts_greedily_on_the_module_outputs(lenet_config):
    space = lenet_config.make_env("test", obs_type="box").observation_space
    policy = RLlibPolicy(_ThresholdModule(space))
    assert policy.obs_type == "box"
    observations = np.zeros((3, *space.shape), dtype=np.float32)
    observations[:, 0] = [0.2, 0.5, 0.9]
    assert policy.act_batch(observations).tolist() == [0, 1, 1]
    assert policy.act(observations[0]) == 0
    # Exits at the first head whose confidence reaches 0.5: the same as the threshold pair 0.5/0.5
    # on every test sample (confidence >= 0.5 <=> bin >= 5 with 10 bins).
    result = evaluate_policy(policy, lenet_config, "test", name="rllib")
    expected = evaluate_policy(make_baseline("cfg-0.5-0.5", lenet_config), lenet_config, "test", name="cfg")
    assert result["mean_return"] == pytest.approx(expected["mean_return"])
    assert result["exit_distribution"] == pytest.approx(expected["exit_distribution"])


def test_a_module_with_another_observation_is_refused():
    with pytest.raises(PolicyError, match="Box, MultiDiscrete or Discrete"):
        RLlibPolicy(_ThresholdModule(spaces.Dict({})))


def test_a_folder_that_is_no_checkpoint_is_refused(tmp_path, lenet_config):
    with pytest.raises(PolicyError, match="not an RLlib checkpoint"):
        load_policy(f"rllib:{tmp_path}", lenet_config)


@pytest.mark.slow
def test_ppo_return_rises_and_the_checkpoint_is_ranked(tmp_path):
    """Six PPO iterations on SPARQExit-LeNet-v0 (box), then ``sparq evaluate --policy rllib:PATH``."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        algo = ppo_config("SPARQExit-LeNet-v0", env_config={"obs_type": "box"}, seed=0).build_algo()
        returns = [algo.train()["env_runners"]["episode_return_mean"] for _ in range(6)]
        print("PPO episode return mean per iteration:", [round(float(r), 4) for r in returns])
        checkpoint = tmp_path / "ppo"
        algo.save(str(checkpoint))
        algo.stop()
    finally:
        ray.shutdown()
    assert np.mean(returns[-2:]) > returns[0] + 0.02, returns
    config = EnvConfig(env_id="SPARQExit-LeNet-v0")  # the shipped traces PPO trained on
    policy = load_policy(f"rllib:{checkpoint}", config)
    result = evaluate_policy(policy, config, "test", name="rllib-ppo")
    always_final = evaluate_policy(make_baseline("always-final", config), config, "test", name="final")
    assert result["mean_return"] > always_final["mean_return"]
    assert policy.obs_type == "box"
