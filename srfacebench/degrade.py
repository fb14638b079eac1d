"""Degradations: MATLAB-compatible bicubic ``imresize`` (the SR community's convention).

``imresize`` with the bicubic kernel (a = −0.5) and, when shrinking, anti-aliasing: the kernel is
stretched by 1/scale and scaled by scale, so it averages over 4/scale input pixels. Out-of-range
taps are mirrored (symmetric padding), as MATLAB does, and each output's weights sum to one.
Resizing is separable, so it is applied as two dense matrices: ``out = Wh @ x @ Wwᵀ``.

Example:
    >>> import torch
    >>> x = torch.rand(2, 3, 32, 32)
    >>> bicubic_downsample(x, 4).shape
    torch.Size([2, 3, 8, 8])
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._lazy import torch

__all__ = ["bicubic_downsample", "bicubic_upsample", "imresize", "imresize_weights"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=64)
def imresize_weights(in_length: int, out_length: int) -> np.ndarray:
    """The out_length × in_length matrix of MATLAB's bicubic ``imresize`` along one axis (float64)."""
    if in_length < 1 or out_length < 1:
        raise ValueError(f"lengths must be positive, got in={in_length}, out={out_length}")
    scale = out_length / in_length
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input indices
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1 else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    m = np.zeros((out_length, in_length))
    np.add.at(m, (np.repeat(np.arange(out_length), taps), idx0.ravel()), w.ravel())
    return m


@lru_cache(maxsize=64)
def _weights_on(in_length: int, out_length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The resize matrix on a device, made once (no host-to-device copy per call)."""
    return torch.from_numpy(imresize_weights(in_length, out_length)).to(device, dtype)


def imresize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """MATLAB-style bicubic resize of a ``...×H×W`` tensor to ``size`` (no clamping)."""
    h, w = x.shape[-2:]
    oh, ow = size
    dtype = x.dtype if x.is_floating_point() else torch.float32
    wh = _weights_on(h, oh, x.device, dtype)
    ww = _weights_on(w, ow, x.device, dtype)
    return wh @ x.to(dtype) @ ww.T


def _check_scale(scale: int) -> None:
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")


def bicubic_downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Down-sample ``B×C×H×W`` by an integer ``scale`` (anti-aliased bicubic, MATLAB-compatible).

    Raises:
        ValueError: if H or W is not divisible by ``scale``.
    """
    _check_scale(scale)
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}×{w} is not divisible by scale {scale}")
    return imresize(hr, (h // scale, w // scale))


def bicubic_upsample(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Up-sample ``B×C×h×w`` by an integer ``scale`` with MATLAB's bicubic kernel."""
    _check_scale(scale)
    h, w = lr.shape[-2:]
    return imresize(lr, (h * scale, w * scale))
