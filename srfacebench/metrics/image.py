"""Intrinsic image metrics on the luminance channel, per image, batched in torch.

Conventions (the SR literature's, as in SRCNN/ESPCN/BasicSR):

* Y = 16 + 65.481·R + 128.553·G + 24.966·B from RGB in [0, 1] (ITU-R BT.601, range [16, 235]),
  without rounding; data range 255. PSNR takes Y(SR) − Y(HR) from the RGB difference and averages
  its square in float64; SSIM works on Y − 128 in float32 (see :func:`ssim_y`).
* ``crop_border`` pixels are removed from every side before measuring (``scale`` by convention).
* PSNR = 10·log10(255² / MSE); identical images give +inf.
* SSIM (Wang et al. 2004): 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, population
  (co)variances, the map computed over the valid region only (no padding), then averaged; the
  same numbers as ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)``.

Example:
    >>> import torch
    >>> hr = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    >>> psnr_y(hr, hr, crop_border=4).tolist()
    [inf, inf]
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .catalogue import SSIM_WINDOW

__all__ = ["psnr_ssim_y", "psnr_y", "rgb_to_y", "ssim_y"]

_BT601 = (65.481, 128.553, 24.966)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """B×3×H×W RGB in [0, 1] → B×H×W luminance in [16, 235] (float64)."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a B×3×H×W RGB batch, got shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    return 16.0 + _BT601[0] * x[:, 0] + _BT601[1] * x[:, 1] + _BT601[2] * x[:, 2]


def _check(sr: torch.Tensor, hr: torch.Tensor, crop_border: int) -> tuple[torch.Tensor, torch.Tensor]:
    if sr.shape != hr.shape:
        raise ValueError(f"SR and HR shapes differ: SR {tuple(sr.shape)} vs HR {tuple(hr.shape)}")
    if sr.ndim != 4 or sr.shape[1] != 3:
        raise ValueError(f"expected B×3×H×W RGB batches, got shape {tuple(sr.shape)}")
    if crop_border:
        if 2 * crop_border >= min(sr.shape[-2:]):
            raise ValueError(f"crop_border {crop_border} leaves nothing of a {tuple(sr.shape[-2:])} image")
        c = crop_border
        sr, hr = sr[..., c:-c, c:-c], hr[..., c:-c, c:-c]
    return sr, hr


def _y_offset(x: torch.Tensor, offset: float) -> torch.Tensor:
    """Y − ``offset`` in float32 (the BT.601 weights applied to RGB in [0, 1])."""
    x = x.float()
    return (16.0 - offset) + _BT601[0] * x[:, 0] + _BT601[1] * x[:, 1] + _BT601[2] * x[:, 2]


def _psnr(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    # Y(SR) − Y(HR) from the RGB difference (the offset 16 cancels), squared and averaged in float64.
    d = _y_offset(sr - hr, 16.0)
    mse = (d * d).double().mean(dim=(1, 2))
    return 10.0 * torch.log10(255.0**2 / mse)


def psnr_y(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0) -> torch.Tensor:
    """Per-image PSNR (dB) on Y between two B×3×H×W batches in [0, 1]; float64, shape (B,)."""
    return _psnr(*_check(sr, hr, crop_border))


def psnr_ssim_y(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(psnr_y, ssim_y)`` of one batch pair (what the engine uses)."""
    sr, hr = _check(sr, hr, crop_border)
    return _psnr(sr, hr), _ssim(sr, hr)


def _gaussian_1d(size: int = SSIM_WINDOW, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


@lru_cache(maxsize=16)
def _valid_filter_matrix(n: int) -> torch.Tensor:
    """(n - 10) × n float32 matrix applying the 11-tap Gaussian over the valid region."""
    g = _gaussian_1d().to(torch.float32)
    k = g.numel()
    m = torch.zeros(n - k + 1, n, dtype=g.dtype)
    for i in range(n - k + 1):
        m[i, i : i + k] = g
    return m


def ssim_y(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0) -> torch.Tensor:
    """Per-image SSIM on Y (see module conventions); shape (B,), float64.

    Y − 128 is computed and Gaussian-filtered (two banded matrix products) in float32; the
    centring keeps E[x²] − μ² accurate, and the result is within 2e-7 of a float64 computation.
    """
    return _ssim(*_check(sr, hr, crop_border))


def _ssim(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    h, w = sr.shape[-2:]
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels after cropping, got {(h, w)}")
    fh, fw = _valid_filter_matrix(h).to(sr.device), _valid_filter_matrix(w).to(sr.device)
    x, y = _y_offset(sr, 128.0), _y_offset(hr, 128.0)
    mu_x, mu_y, xx, yy, xy = fh @ torch.stack([x, y, x * x, y * y, x * y]) @ fw.T
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    mu_x, mu_y = mu_x + 128.0, mu_y + 128.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return s.mean(dim=(1, 2)).double()
