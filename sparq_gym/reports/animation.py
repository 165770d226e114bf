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
               fps: int = 2, frames: str | Path | None = None, **env_kwargs: Any) -> Path:
    """Film ``episodes`` episodes of ``env_id`` on ``split`` with ``RecordVideo`` and write them to
    the GIF ``out`` (atomically); return its path. ``frames``: also write a PNG of the start, a
    middle and the end frame of the first episode of three decisions or more (else the longest)."""
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
        shown: list[Any] = []  # the frames of the episode the PNG shows
        for episode in range(episodes):
            _, info = filmed.reset(seed=seed + episode)
            seen = [env.render()]
            done = False
            while not done:
                n_actions = int(getattr(env.action_space, "n", 2))
                mask = np.asarray(info.get("action_mask", np.ones(n_actions, dtype=np.bool_)))
                action = int(rng.choice(np.flatnonzero(mask)))
                _, _, terminated, truncated, info = filmed.step(action)
                seen.append(env.render())
                done = terminated or truncated
            if len(shown) < 4 and len(seen) > len(shown):  # the first with three decisions, else the longest
                shown = seen
        filmed.close()
        if frames is not None:
            _write_strip(Path(frames), [shown[0], shown[len(shown) // 2], shown[-1]])
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


def _write_strip(path: Path, images: list[Any]) -> None:
    """The frames side by side, 8 white pixels apart, as a PNG (atomically)."""
    from PIL import Image

    gap = np.full((images[0].shape[0], 8, 3), 255, dtype=np.uint8)
    strip = np.concatenate([part for image in images for part in (image, gap)][:-1], axis=1)
    with atomic_path(path) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
