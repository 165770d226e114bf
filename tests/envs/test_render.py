"""render_mode "rgb_array": confidence bars, decision and cost; Gymnasium's checker and RecordVideo."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sparq_gym.envs import SPARQExitEnv
from sparq_gym.envs.render import (
    _CURRENT,
    _PASSED,
    _PLOT_BOTTOM,
    _PLOT_TOP,
    _RIGHT,
    _WRONG,
    FRAME_HEIGHT,
    FRAME_WIDTH,
)
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
    plot_height = _PLOT_BOTTOM - _PLOT_TOP
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


def test_a_head_not_reached_shows_no_confidence(tiny_traces):
    """The frame shows only what the agent has seen: an unreached head is the same empty outline
    whatever its confidence."""
    import dataclasses

    env = SPARQExitEnv(traces=tiny_traces, render_mode="rgb_array")
    env.reset(options={"sample_index": 0})
    frame = env.render()
    probs = tiny_traces.probs.copy()
    probs[0, 1:] = probs[0, 1:][:, ::-1]  # other confidences at the heads ahead
    other = SPARQExitEnv(traces=dataclasses.replace(tiny_traces, probs=probs), render_mode="rgb_array")
    other.reset(options={"sample_index": 0})
    assert np.array_equal(frame, other.render())


def test_depth_time_frames_draw_the_grid_and_the_path():
    from sparq_gym.envs.depth_time_env import SPARQDepthTimeEnv
    from sparq_gym.envs.render import grid_path
    from sparq_gym.traces.timeset import make_synthetic_time_traces

    assert grid_path((0, 0, ())) == ((0, 0),)
    assert grid_path((2, 3, (1, 1))) == ((0, 0), (0, 1), (1, 1), (2, 1), (2, 2), (2, 3))
    env = SPARQDepthTimeEnv(traces=make_synthetic_time_traces(20, seed=0), render_mode="rgb_array")
    assert (env.render() == 255).all()  # blank before reset
    env.reset(options={"sample_index": 3})
    start = env.render()
    assert start.shape == (FRAME_HEIGHT, FRAME_WIDTH, 3) and len(_colour_columns(start, _CURRENT)) > 0
    env.step(2)  # WAIT: the first cell is passed (blue), the second current
    middle = env.render()
    assert len(_colour_columns(middle, _PASSED)) > 0
    assert _colour_columns(middle, _CURRENT).min() > _colour_columns(middle, _PASSED).min()
    _, _, _, _, info = env.step(1)
    end = env.render()
    assert len(_colour_columns(end, _RIGHT if info["correct"] else _WRONG)) > 0
    assert len(_colour_columns(end, _CURRENT)) == 0
    again = SPARQDepthTimeEnv(traces=make_synthetic_time_traces(20, seed=0), render_mode="rgb_array")
    again.reset(options={"sample_index": 3})
    again.step(2)
    assert np.array_equal(again.render(), middle)  # the same frame for the same state
    traces = make_synthetic_time_traces(20, seed=0)
    made = gym.make("SPARQDepthTime-v0", traces=traces, render_mode="rgb_array")
    check_env(made.unwrapped)


def test_the_input_image_where_the_dataset_is_local_else_a_placeholder(tiny_traces):
    """The frame shows the trace's own image (its dataset's, at the trace's sample id, with the
    trace's label) when the data is local; synthetic traces name no dataset: a placeholder."""
    from sparq_gym.envs.render import _IMAGE, _PLOT_TOP, sample_image

    assert sample_image(tiny_traces, 0, {}) is None
    env = gym.make("SPARQExit-LeNet-v0", split="test", render_mode="rgb_array")
    traces = env.unwrapped.traces
    image = sample_image(traces, 11, {})
    if image is None:
        pytest.skip("MNIST is not local (SPARQ_DATA or ../shared/data)")
    from sparq_gym.data.splits import load_split

    mnist = load_split("mnist", "test")
    index = int(traces.sample_ids[11])
    assert mnist.labels[index] == traces.labels[11]
    assert np.array_equal(image[:, :, 0], mnist.images[index, 0]) and image.shape == (28, 28, 3)
    env.reset(options={"sample_index": 11})
    frame = env.render()
    box = frame[_PLOT_TOP : _PLOT_TOP + _IMAGE, FRAME_WIDTH - 8 - _IMAGE : FRAME_WIDTH - 8, 0]
    assert np.array_equal(box[::2, ::2], mnist.images[index, 0])  # 28 px drawn at 56: every pixel twice


@pytest.mark.parametrize("env_id", ["SPARQExit-MLP-v0", "SPARQDepthTime-MLP-v0"])
def test_render_gif_films_episodes_with_record_video(tmp_path, capsys, env_id):
    pytest.importorskip("moviepy")
    from PIL import Image

    from sparq_gym.cli import main

    out = tmp_path / "episodes.gif"
    assert main(["render-gif", "--env", env_id, "--out", str(out), "--episodes", "2"]) == 0
    with Image.open(out) as gif:
        assert gif.size == (FRAME_WIDTH, FRAME_HEIGHT) and gif.n_frames >= 4  # reset + >= 1 step, twice
    assert [p.name for p in tmp_path.iterdir()] == ["episodes.gif"]  # nothing else left behind


def test_the_status_line_counts_the_decisions_taken():
    """v0 has E-1 = 2 decisions: CONTINUE twice reaches the final head at step 2."""
    from sparq_gym.envs.render import exit_status

    names = ("exit1", "exit2", "final")
    assert exit_status(0, False, 3, names) == "step 0: start"
    assert exit_status(1, False, 3, names) == "step 1: CONTINUE"
    assert exit_status(0, True, 3, names) == "step 1: EXIT at exit1"
    assert exit_status(1, True, 3, names) == "step 2: EXIT at exit2"
    assert exit_status(2, True, 3, names) == "step 2: CONTINUE to the final head"


def test_render_gif_frames_strip(tmp_path):
    pytest.importorskip("moviepy")
    from PIL import Image

    from sparq_gym.reports.animation import record_gif

    record_gif("SPARQDepthTime-MLP-v0", tmp_path / "e.gif", episodes=2, frames=tmp_path / "f.png")
    with Image.open(tmp_path / "f.png") as strip:
        assert strip.size == (3 * FRAME_WIDTH + 2 * 8, FRAME_HEIGHT)  # start, middle, end, 8 px apart
