"""PSNR/SSIM on Y against scikit-image (≤ 1e-4), and the Y conversion by hand."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srfacebench.metrics.image import psnr_ssim_y, psnr_y, rgb_to_y, ssim_y

TOL = 1e-4  # the bar; float64 gives ~1e-12 in practice


def y_numpy(img):  # BT.601 written out independently: img H×W×3 in [0, 1]
    return 16 + 65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]


@pytest.fixture
def batch():
    rng = np.random.default_rng(7)
    hr = rng.random((3, 3, 40, 48))
    sr = np.clip(hr + rng.normal(0, 0.05, hr.shape), 0, 1)
    return torch.from_numpy(sr), torch.from_numpy(hr)


def test_y_by_hand():
    white = torch.ones(1, 3, 1, 1)
    black = torch.zeros(1, 3, 1, 1)
    assert rgb_to_y(white).item() == pytest.approx(235.0)
    assert rgb_to_y(black).item() == pytest.approx(16.0)


def y_pairs(sr, hr, crop):
    """(Y of SR, Y of HR) per image, in NumPy, cropped: the reference side of the comparisons."""
    for i in range(len(sr)):
        ys, yh = (y_numpy(t[i].permute(1, 2, 0).numpy()) for t in (sr, hr))
        if crop:
            ys, yh = ys[crop:-crop, crop:-crop], yh[crop:-crop, crop:-crop]
        yield ys, yh


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_matches_skimage(batch, crop):
    sr, hr = batch
    ours = psnr_y(sr, hr, crop_border=crop).numpy()
    for i, (ys, yh) in enumerate(y_pairs(sr, hr, crop)):
        assert ours[i] == pytest.approx(peak_signal_noise_ratio(yh, ys, data_range=255), abs=TOL)


@pytest.mark.parametrize("crop", [0, 8])
def test_ssim_matches_skimage(batch, crop):
    sr, hr = batch
    ours = ssim_y(sr, hr, crop_border=crop).numpy()
    for i, (ys, yh) in enumerate(y_pairs(sr, hr, crop)):
        ref = structural_similarity(
            yh, ys, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
        )
        assert ours[i] == pytest.approx(ref, abs=TOL)


def test_identical_and_errors():
    x = torch.rand(2, 3, 24, 24)
    assert torch.isinf(psnr_y(x, x)).all()
    torch.testing.assert_close(ssim_y(x, x), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"SR \(2, 3, 24, 24\) vs HR \(2, 3, 24, 20\)"):
        psnr_y(x, x[..., :20])
    with pytest.raises(ValueError, match="at least 11×11"):
        ssim_y(x, x, crop_border=8)


def test_combined_equals_separate(batch):
    sr, hr = batch
    p, s = psnr_ssim_y(sr, hr, 4)
    torch.testing.assert_close(p, psnr_y(sr, hr, 4))
    torch.testing.assert_close(s, ssim_y(sr, hr, 4))
