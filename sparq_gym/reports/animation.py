"""An animated GIF of episodes, filmed by Gymnasium's ``RecordVideo``: what ``sparq render-gif`` writes.

The environment is made with ``render_mode="rgb_array"`` and wrapped in
``gymnasium.wrappers.RecordVideo`` (moviepy writes its MP4); the MP4 is then turned into a GIF
with moviepy, so the README's animations are the frames a user's ``RecordVideo`` films. The
episodes play seeded random actions among the valid ones (the action mask where the family
has one). Needs the ``[video]`` extra (moviepy).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sparq_gym.io import atomic_path

__all__ = ["record_gif"]


def record_gif(env_id: str, out: str | Path, *, episodes: int = 3, seed: int = 0, split: str = "test",
               fps: int = 2, **env_kwargs: Any) -> Path:
    """Film ``episodes`` episodes of ``env_id`` on ``split`` with ``RecordVideo`` and write them to
    the GIF ``out`` (atomically); return its path."""
    import gymnasium as gym

    import sparq_gym  # noqa: F401  (registers the ids)

    try:
        from moviepy import VideoFileClip, concatenate_videoclips
    except ImportError as err:
        raise ImportError("sparq render-gif needs moviepy: pip install 'sparq_gym[video]'") from err
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="sparq-gif-") as folder:
        env = gym.make(env_id, split=split, render_mode="rgb_array", **env_kwargs)
        env.metadata = {**env.metadata, "render_fps": fps}
        filmed = gym.wrappers.RecordVideo(env, str(Path(folder) / "videos"), name_prefix="episode",
                                          episode_trigger=lambda episode: True, disable_logger=True)
        for episode in range(episodes):
            _, info = filmed.reset(seed=seed + episode)
            done = False
            while not done:
                n_actions = int(getattr(env.action_space, "n", 2))
                mask = np.asarray(info.get("action_mask", np.ones(n_actions, dtype=np.bool_)))
                action = int(rng.choice(np.flatnonzero(mask)))
                _, _, terminated, truncated, info = filmed.step(action)
                done = terminated or truncated
        filmed.close()
        videos = sorted((Path(folder) / "videos").glob("episode-episode-*.mp4"),
                        key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        clips = [VideoFileClip(str(video)) for video in videos]
        movie = concatenate_videoclips(clips)
        gif = Path(folder) / "episodes.gif"  # a .gif name: the writer picks its format from it
        movie.write_gif(str(gif), fps=fps, logger=None)
        for clip in clips:
            clip.close()
        out = Path(out)
        with atomic_path(out) as tmp:
            shutil.copyfile(gif, tmp)
    return out
