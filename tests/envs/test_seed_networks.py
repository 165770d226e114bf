"""Every v0 id replays the related seeds' networks (``network="multilevel"`` / ``"spquant"``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sparq_gym  # noqa: F401  (registers the ids)
from sparq_gym.paths import trace_dir
from sparq_gym.reports.variants import compare_variants
from sparq_gym.traces import TraceSet

IDS = {"mlp": "SPARQExit-MLP-v0", "lenet": "SPARQExit-LeNet-v0", "alexnet": "SPARQExit-AlexNet-v0"}


def _traces(backbone: str, network: str) -> TraceSet:
    if not (trace_dir(backbone, network) / "test.npz").exists():
        pytest.skip(f"no shipped {network} traces for {backbone}")
    return TraceSet.load(trace_dir(backbone, network), "test")


def _sparq_pj(counts: np.ndarray, names: list[str], spike_bits: int) -> np.ndarray:
    """The paper's Eq. 4-9 by hand, a synaptic op on a b-bit spike priced as b accumulates."""
    c = {name: counts[..., k].astype(float) for k, name in enumerate(names)}
    return (c["macs"] * 4.6 + c["synaptic_ops"] * 0.03 * spike_bits + c["lif_ops"] / 2 * (0.9 + 0.1)
            + c["mem_bytes"] * 80.0)


@pytest.mark.parametrize("network", ["multilevel", "spquant"])
@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
def test_always_continue_replays_the_final_head_and_its_path_energy(backbone: str, network: str) -> None:
    traces = _traces(backbone, network)
    bits = int(traces.meta["spike_bits"])
    assert bits == (3 if network == "multilevel" else 1)  # N = 4 levels need 3 bits
    env = gym.make(IDS[backbone], network=network, split="test", cost="energy:sparq")
    energy = _sparq_pj(traces.exit_counts[:, -1], list(traces.counter_names), bits) * 1e-12
    for i in range(0, traces.n_samples, max(1, traces.n_samples // 40)):
        env.reset(options={"sample_index": i})
        terminated = False
        while not terminated:
            _, _, terminated, _, info = env.step(0)
        assert info["exit"] == traces.n_exits - 1
        assert info["correct"] == (traces.probs[i, -1].argmax() == traces.labels[i])
        assert info["cost"] == pytest.approx(energy[i], rel=1e-9)
    env.close()


@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
def test_variant_report_rows_are_the_traces_full_path(backbone: str) -> None:
    base = _traces(backbone, "qdsnn")
    result = compare_variants(backbone)
    rows = {r["network"]: r for r in result["rows"]}
    assert rows["qdsnn"]["accuracy"] == pytest.approx(100 * float(base.accuracy_per_exit()[-1]))
    for network, row in rows.items():
        t = TraceSet.load(trace_dir(backbone, network), "test")
        path = t.exit_counts[:, -1].astype(float)
        k = {name: i for i, name in enumerate(t.counter_names)}
        rate = path[:, k["spikes"]].mean() / (path[:, k["lif_ops"]].mean() / 2)
        assert row["spike_rate"] == pytest.approx(rate)
        ratio = path[:, k["synaptic_ops"]].mean() / base.exit_counts[:, -1, k["synaptic_ops"]].mean()
        assert row["ratio"]["synaptic_ops"] == pytest.approx(ratio)
        energy = _sparq_pj(path, list(t.counter_names), int(t.meta["spike_bits"])).mean() * 1e-12
        assert row["energy_sparq"] == pytest.approx(energy, rel=1e-9)


@pytest.mark.parametrize(("network", "timesteps"), [("multilevel", 1), ("spquant", 4)])
@pytest.mark.parametrize("backbone", ["mlp", "lenet", "alexnet"])
def test_depth_time_ids_replay_the_seed_networks(backbone: str, network: str, timesteps: int) -> None:
    """``SPARQDepthTime-*-v0`` with ``network=`` reads ``<network>_time``; its last timestep is v0's trace."""
    from sparq_gym.envs.depth_time_env import time_trace_dir
    from sparq_gym.traces.timeset import TimeTraceSet

    if not (time_trace_dir(backbone, network) / "test.npz").exists():
        pytest.skip(f"no shipped {network}_time traces for {backbone}")
    flat = _traces(backbone, network)
    timed = TimeTraceSet.load(time_trace_dir(backbone, network), "test")
    assert timed.meta["timesteps"] == timesteps and timed.probs.shape[2] == timesteps
    assert np.array_equal(timed.sample_ids, flat.sample_ids)
    np.testing.assert_array_equal(timed.probs[:, :, -1], flat.probs)  # the same run, read at T
    for k in range(flat.n_exits):  # and the same costs: block k plus every head up to k, at T
        at_t = timed.block_counts[:, k, -1] + timed.head_counts[:, : k + 1, -1].sum(1)
        np.testing.assert_array_equal(at_t, flat.exit_counts[:, k])
    names = IDS[backbone].replace("SPARQExit", "SPARQDepthTime")
    env = gym.make(names, network=network, split="test")
    env.reset(seed=0)
    assert env.unwrapped.tables.n_timesteps == timesteps
    env.close()
