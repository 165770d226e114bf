"""Clip-floor-shift activation: hand-worked values and gradients."""

from __future__ import annotations

import torch

from sparq_gym.backbones.layers import ClipFloorShift, clip_floor_shift


def test_levels_by_hand() -> None:
    # clip 2, L = 4: step 0.5; floor(x * 2 + 0.5) / 2 clamped to [0, 2]
    x = torch.tensor([-1.0, 0.2, 0.25, 0.7, 0.74, 0.76, 1.9, 5.0])
    y = clip_floor_shift(x, torch.tensor(2.0), 4)
    assert y.tolist() == [0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 2.0, 2.0]


def test_gradients_by_hand() -> None:
    x = torch.tensor([-1.0, 0.7, 5.0], requires_grad=True)
    clip = torch.tensor(2.0, requires_grad=True)
    clip_floor_shift(x, clip, 4).sum().backward()
    # d/dx: 0 below, 1 inside, 0 above
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    # d/dclip: 0 below; inside q - x/clip = 0.25 - 0.35 = -0.1; above 1
    assert torch.isclose(clip.grad, torch.tensor(0.9))


def test_module_has_learnable_clip() -> None:
    act = ClipFloorShift(levels=4, clip_init=3.0)
    assert [name for name, _ in act.named_parameters()] == ["clip"]
    assert act(torch.tensor([3.0, 10.0])).tolist() == [3.0, 3.0]
