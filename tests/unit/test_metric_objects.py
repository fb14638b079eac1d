"""The training-loop metric objects equal the functional metrics (and scikit-image) on the same images."""

import contextlib

import pytest
import torch

from srfacebench import PSNRY, SSIMY, FRDistance
from srfacebench.losses import fr_distance
from srfacebench.metrics.image import psnr_y, ssim_y


def _batches():
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(6, 3, 32, 32, generator=g, dtype=torch.float64)
    sr = (hr + 0.05 * torch.randn(6, 3, 32, 32, generator=g, dtype=torch.float64)).clamp(0, 1)
    return sr, hr


@pytest.mark.parametrize(("cls", "fn"), [(PSNRY, psnr_y), (SSIMY, ssim_y)])
def test_accumulated_mean_equals_the_functional_mean(cls, fn):
    sr, hr = _batches()
    m = cls(crop_border=2)
    m.update(sr[:4], hr[:4])
    m.update(sr[4:], hr[4:])
    assert float(m.compute()) == pytest.approx(float(fn(sr, hr, 2).mean()), rel=1e-12)
    assert m.higher_is_better


def test_data_range_255_gives_the_same_psnr():
    sr, hr = _batches()
    a, b = PSNRY(crop_border=0, data_range=1.0), PSNRY(crop_border=0, data_range=255)
    a.update(sr, hr)
    b.update(sr * 255, hr * 255)
    assert float(a.compute()) == pytest.approx(float(b.compute()), rel=1e-9)


def test_psnr_matches_scikit_image_on_y():
    from skimage.metrics import peak_signal_noise_ratio

    sr, hr = _batches()
    m = PSNRY(crop_border=0)
    m.update(sr[:1], hr[:1])

    def y(x):  # BT.601 luma in [16, 235] / 255, written out independently
        r, g, b = x[0]
        return ((65.481 * r + 128.553 * g + 24.966 * b) + 16.0).numpy() / 255.0

    ref = peak_signal_noise_ratio(y(hr[:1]), y(sr[:1]), data_range=1.0)
    assert float(m.compute()) == pytest.approx(ref, rel=1e-6)  # the Y difference is formed in float32


def test_fr_distance_mean_and_direction():
    from srfacebench.metrics.torchmetrics import HAVE_TORCHMETRICS
    from srfacebench.registry import load_embedder

    net = load_embedder("mobileface-v2")
    sr, hr = (t.float() for t in _batches())
    m = FRDistance(net)
    batch_value = m(sr[:3], hr[:3])
    m.update(sr[3:], hr[3:])
    with torch.no_grad():
        ref = fr_distance(net.eval()(sr), net(hr))
    assert float(m.compute()) == pytest.approx(float(ref.mean()), rel=1e-5)
    assert float(batch_value) == pytest.approx(float(ref[:3].mean()), rel=1e-5)
    assert m.higher_is_better is False
    m.reset()
    warns = pytest.warns(UserWarning) if HAVE_TORCHMETRICS else contextlib.nullcontext()
    with warns, pytest.raises(RuntimeError, match="before any update"):
        m.compute()
    assert int(m.count) == 0


def test_the_default_crop_border_is_the_runs():
    sr, hr = _batches()
    m = PSNRY(scale=4)
    m.update(sr, hr)
    assert float(m.compute()) == pytest.approx(float(psnr_y(sr, hr, 4).mean()), rel=1e-12)
    with pytest.raises(ValueError, match="give scale="):
        PSNRY()


def test_0_255_input_with_data_range_1_is_an_error_not_minus_20_db():
    sr, hr = _batches()
    m = SSIMY(scale=2)
    with pytest.raises(ValueError, match=r"outside \[0, data_range=1\] \(0..255 images: pass data_range=255\)"):
        m.update(sr * 255, hr * 255)
    with pytest.raises(ValueError, match="B×3×H×W"):
        m.update(sr[:, :1], hr[:, :1])


def test_they_are_modules_and_torchmetrics_metrics_where_installed():
    from srfacebench.metrics.torchmetrics import HAVE_TORCHMETRICS

    sr, hr = (t.float() for t in _batches())
    m = PSNRY(scale=2)
    assert isinstance(m, torch.nn.Module)
    m.update(sr, hr)
    m.reset()
    warns = pytest.warns(UserWarning) if HAVE_TORCHMETRICS else contextlib.nullcontext()  # torchmetrics warns too
    with warns, pytest.raises(RuntimeError, match="before any update"):
        m.compute()
    if not HAVE_TORCHMETRICS:
        pytest.skip("torchmetrics not installed: the nn.Module fallback was checked")
    from torchmetrics import Metric, MetricCollection

    assert isinstance(m, Metric)
    coll = MetricCollection({"psnr": PSNRY(scale=2), "ssim": SSIMY(scale=2)})
    coll.update(sr, hr)
    out = coll.compute()
    assert float(out["psnr"]) == pytest.approx(float(psnr_y(sr, hr, 2).mean()), rel=1e-6)
    assert float(out["ssim"]) == pytest.approx(float(ssim_y(sr, hr, 2).mean()), rel=1e-6)


def test_the_install_leaves_torchmetrics_and_torchvision_importable():
    # The README's install (extras test, spandrel, zoo) must not bring a package that cannot be
    # imported beside this torch: PyPI's torchvision did, and broke `import torchmetrics` with it.
    import importlib
    import importlib.util

    from srfacebench.metrics.torchmetrics import HAVE_TORCHMETRICS

    for name in ("torchvision", "torchmetrics"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    assert (importlib.util.find_spec("torchmetrics") is not None) == HAVE_TORCHMETRICS
