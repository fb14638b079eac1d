"""MATLAB-compatible bicubic imresize, checked against values worked out by hand and against PIL."""

import numpy as np
import pytest
import torch
from PIL import Image

from srfacebench.degradations import parse_degradation
from srfacebench.degrade import bicubic_downsample, bicubic_upsample, imresize_weights


def keys_cubic(t: float) -> float:
    """Keys' cubic kernel with a = -0.5, written out independently of the code under test."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def test_x2_interior_weights_worked_by_hand():
    # Down-sampling by 2: output pixel 4 (1-based) is centred at input 7.5; the kernel is stretched
    # to width 8, taps at distances 3.5 .. 0.5 .. 3.5, each weight = cubic(d / 2) / 2.
    by_hand = [keys_cubic(d / 2) / 2 for d in (3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5)]
    assert by_hand == pytest.approx(
        [-0.01171875, -0.03515625, 0.11328125, 0.43359375] * 1 + [0.43359375, 0.11328125, -0.03515625, -0.01171875]
    )
    w = imresize_weights(16, 8)
    np.testing.assert_allclose(w[3, 3:11], by_hand, atol=1e-15)
    assert w[3, :3].sum() == 0 and w[3, 11:].sum() == 0


def test_x2_border_weights_mirror_like_matlab():
    # Output pixel 1 is centred at input 1.5; taps at inputs -2..5 are mirrored (0->1, -1->2, -2->3).
    k = [keys_cubic(d / 2) / 2 for d in (3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5)]
    expected = np.zeros(16)
    for idx, wt in zip([3, 2, 1, 1, 2, 3, 4, 5], k, strict=True):
        expected[idx - 1] += wt
    np.testing.assert_allclose(imresize_weights(16, 8)[0], expected, atol=1e-15)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_interior_matches_pil_bicubic(scale):
    # PIL's BICUBIC (a = -0.5, support stretched when reducing) is the same filter away from the
    # borders, where PIL truncates and MATLAB mirrors.
    rng = np.random.default_rng(scale)
    x = rng.random((8 * scale, 8 * scale)).astype(np.float32)
    ref = np.asarray(Image.fromarray(x, mode="F").resize((8, 8), Image.BICUBIC))
    out = bicubic_downsample(torch.from_numpy(x.astype(np.float64))[None, None], scale)[0, 0].numpy()
    np.testing.assert_allclose(out[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-6)


def test_rows_sum_to_one_and_constants_are_kept():
    for n_in, n_out in [(160, 40), (160, 20), (40, 160), (7, 3)]:
        np.testing.assert_allclose(imresize_weights(n_in, n_out).sum(axis=1), 1.0, atol=1e-12)
    x = torch.full((1, 3, 32, 32), 0.3)
    torch.testing.assert_close(bicubic_downsample(x, 4), torch.full((1, 3, 8, 8), 0.3))


def test_linear_ramp_downsample_is_the_window_mean():
    # A symmetric filter reproduces linear data exactly away from the border: output i of a x2
    # reduction of 1..16 sits at input position 2i - 0.5.
    x = torch.arange(1, 17, dtype=torch.float64).view(1, 1, 1, 16).expand(1, 1, 16, 16)
    out = bicubic_downsample(x, 2)[0, 0, 4]
    np.testing.assert_allclose(out[2:6].numpy(), [2 * i - 0.5 for i in range(3, 7)], atol=1e-12)


def test_shapes_and_errors():
    x = torch.rand(2, 3, 160, 160)
    assert bicubic_downsample(x, 8).shape == (2, 3, 20, 20)
    assert bicubic_upsample(torch.rand(2, 3, 20, 20), 8).shape == (2, 3, 160, 160)
    with pytest.raises(ValueError, match="150×150 is not divisible by scale 4"):
        bicubic_downsample(torch.rand(1, 3, 150, 150), 4)
    with pytest.raises(ValueError, match="positive integer"):
        bicubic_downsample(x, 0)
    lr = parse_degradation("bicubic:4")(x)
    assert lr.min() >= 0 and lr.max() <= 1
