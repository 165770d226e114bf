"""Tests for sparq_gym.data.pixels: the one pixel normalisation, on numpy arrays and torch tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparq_gym import data


def test_normalize_hand_worked() -> None:
    mnist = data.DATASETS["mnist"]
    images = np.array([[[[0, 255]]]], dtype=np.uint8)  # (1, 1, 1, 2)
    out = data.normalize(images, mnist)
    assert out.dtype == np.float32 and out.shape == (1, 1, 1, 2)
    # (0 - 0.1307) / 0.3081 and (1 - 0.1307) / 0.3081
    np.testing.assert_allclose(out.ravel(), [-0.4242129, 2.8214865], rtol=1e-6)
    cifar = data.DATASETS["cifar10"]
    pixel = np.full((3, 1, 1), 51, dtype=np.uint8)  # 51 / 255 = 0.2
    # (0.2 - 0.4914) / 0.2470, (0.2 - 0.4822) / 0.2435, (0.2 - 0.4465) / 0.2616
    expected = [-1.1797571, -1.1589322, -0.9422783]
    np.testing.assert_allclose(data.normalize(pixel, cifar).ravel(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="3 channel"):
        data.normalize(images, cifar)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_normalize_pixels_matches_the_expressions_it_replaced(name: str) -> None:
    info = data.DATASETS[name]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, *info.image_shape), dtype=np.uint8)
    # numpy, as the timing report wrote it: float32 / 255, minus mean, over std
    mean_a = np.asarray(info.mean, dtype=np.float32).reshape(-1, 1, 1)
    std_a = np.asarray(info.std, dtype=np.float32).reshape(-1, 1, 1)
    old_numpy = (images.astype(np.float32) / 255.0 - mean_a) / std_a
    new_numpy = data.normalize_pixels(images, info.mean, info.std)
    assert new_numpy.dtype == np.float32 and np.array_equal(new_numpy, old_numpy)
    # torch, as training, QAT, calibration and trace extraction wrote it
    batch = torch.from_numpy(images)
    mean_t = torch.tensor(info.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(info.std, dtype=torch.float32).view(1, -1, 1, 1)
    old_torch = (batch.float() / 255.0 - mean_t) / std_t
    new_torch = data.normalize_pixels(batch, info.mean, info.std)
    assert isinstance(new_torch, torch.Tensor) and new_torch.dtype == torch.float32
    assert new_torch.shape == old_torch.shape and torch.equal(new_torch, old_torch)
    assert new_torch.is_contiguous()


def test_normalize_pixels_hand_worked_tensor() -> None:
    pixel = torch.full((1, 3, 1, 1), 51, dtype=torch.uint8)  # 51 / 255 = 0.2
    out = data.normalize_pixels(pixel, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    expected = [-1.1797571, -1.1589322, -0.9422783]  # as in test_normalize_hand_worked
    np.testing.assert_allclose(out.numpy().ravel(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="1 channel"):
        data.normalize_pixels(pixel, (0.1307,), (0.3081,))
