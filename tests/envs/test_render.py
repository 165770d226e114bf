"""render_mode "rgb_array": confidence bars, decision and cost; Gymnasium's checker and RecordVideo."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sparq_gym.envs import SPARQExitEnv
from sparq_gym.envs.render import _CURRENT, _PASSED, _RIGHT, _WRONG, FRAME_HEIGHT, FRAME_WIDTH
from sparq_gym.traces import make_synthetic_traces


def _colour_columns(frame: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.flatnonzero((frame == colour).all(axis=2).any(axis=0))


def _bar_height(frame: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((frame == colour).all(axis=2).any(axis=1).sum())


def test_frames_show_the_heads_the_decision_and_the_cost(tiny_traces):
    env = SPARQExitEnv(traces=tiny_traces, render_mode="rgb_array")
    blank = env.render()
    assert blank.shape == (FRAME_HEIGHT, FRAME_WIDTH, 3) and blank.dtype == np.uint8 and (blank == 255).all()
    env.reset(options={"sample_index": 0})
    frame = env.render()
    # at exit 0 (confidence 0.5): an orange bar half the plot's height, nothing passed yet
    plot_height = FRAME_HEIGHT - 40 - 8
    assert _bar_height(frame, _CURRENT) == round(0.5 * plot_height)
    assert len(_colour_columns(frame, _PASSED)) == 0
    env.step(0)  # CONTINUE: exit 0 is passed, the agent is at exit 1
    frame = env.render()
    assert len(_colour_columns(frame, _PASSED)) > 0
    assert _colour_columns(frame, _CURRENT).min() > _colour_columns(frame, _PASSED).max()
    _, _, _, _, info = env.step(1)
    frame = env.render()
    assert len(_colour_columns(frame, _RIGHT if info["correct"] else _WRONG)) > 0
    assert len(_colour_columns(frame, _CURRENT)) == 0


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_gymnasium_checker_render_checks_pass(mode):
    assert mode in SPARQExitEnv.metadata["render_modes"]
    env = gym.make("SPARQExit-v0", traces=make_synthetic_traces(50, seed=0), render_mode=mode)
    check_env(env.unwrapped)  # render checks included, every other render mode through the spec


def test_record_video_films_episodes(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.make(
        "SPARQExit-LeNet-v0", traces=make_synthetic_traces(50, seed=0, split="train"), render_mode="rgb_array"
    )
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda episode: episode < 3,
                                   disable_logger=True)
    for episode in range(3):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, done, _, _ = env.step(0)
    env.close()
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 3 and all(v.stat().st_size > 0 for v in videos)
