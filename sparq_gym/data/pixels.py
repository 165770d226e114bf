"""Pixel normalisation: ``uint8`` images to float32 ``(x / 255 - mean) / std`` per channel.

This is the one place the rule is written. Every stage that feeds images to a
network (ANN training and evaluation, QAT, bias calibration, trace extraction,
inference timing) calls :func:`normalize_pixels`, on a numpy array or on a torch
tensor, so that a network sees the same input whichever stage feeds it. The
data stage does not import torch: a tensor is normalised with its own methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from sparq_gym.data.registry import DatasetInfo

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["normalize", "normalize_pixels"]


@overload
def normalize_pixels(
    images: NDArray[Any], mean: Sequence[float], std: Sequence[float]
) -> NDArray[np.float32]: ...


@overload
def normalize_pixels(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor: ...


def normalize_pixels(
    images: NDArray[Any] | Tensor, mean: Sequence[float], std: Sequence[float]
) -> NDArray[np.float32] | Tensor:
    """Scale ``uint8`` pixels to float32 ``(x / 255 - mean) / std``, channel by channel.

    ``images`` is a numpy array or a torch tensor (on any device) with the
    channel axis third from the end, ``(N, C, H, W)`` or ``(C, H, W)``, and
    ``mean``/``std`` hold one value per channel (a dataset's statistics of its
    training pixels scaled to [0, 1], :attr:`DatasetInfo.mean`). The result has
    the type of ``images`` and is computed in float32 in this order: convert,
    divide by 255, subtract the mean, divide by the std (the statistics are
    rounded to float32 first), so numpy and torch callers get the same numbers
    as the expressions this function replaced. Raises ``ValueError`` when the
    channel axis does not match ``len(mean)``.
    """
    channels = len(mean)
    if images.ndim < 3 or images.shape[-3] != channels:
        raise ValueError(
            f"expected images with {channels} channel(s) on axis -3, e.g. (N, {channels}, H, W), "
            f"got shape {tuple(images.shape)}"
        )
    if isinstance(images, np.ndarray):
        mean_a = np.asarray(mean, dtype=np.float32).reshape(channels, 1, 1)
        std_a = np.asarray(std, dtype=np.float32).reshape(channels, 1, 1)
        return ((images.astype(np.float32) / np.float32(255.0) - mean_a) / std_a).astype(np.float32)
    pixels = images.float() / 255.0  # a torch tensor: the same float32 steps, in torch
    mean_t = pixels.new_tensor(tuple(mean)).view(channels, 1, 1)
    std_t = pixels.new_tensor(tuple(std)).view(channels, 1, 1)
    return (pixels - mean_t) / std_t


def normalize(images_uint8: np.ndarray, info: DatasetInfo) -> NDArray[np.float32]:
    """Scale ``uint8`` images to float32 ``(x / 255 - mean) / std`` per channel.

    ``images_uint8`` has the channel axis third from the end: ``(N, C, H, W)``
    or ``(C, H, W)`` with ``C`` equal to ``len(info.mean)``. The mean and std
    are the dataset's published per-channel statistics of the training pixels
    scaled to [0, 1]; the arithmetic is :func:`normalize_pixels`.
    """
    return normalize_pixels(np.asarray(images_uint8), info.mean, info.std)
