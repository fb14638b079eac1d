"""Degradation specs: golden values from scipy.ndimage, Pillow and hand-worked kernels; seeded noise."""

import hashlib
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from srfacebench.degradations import (
    DegradationError,
    expand_specs,
    gaussian_blur,
    parse_degradation,
    severity_families,
)
from srfacebench.degrade import bicubic_downsample


def _img(b=2, h=32, w=32, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((b, 3, h, w))).float()


@pytest.mark.parametrize("sigma", [0.6, 1.5, 3.0, 9.0])
def test_blur_matches_scipy_gaussian_filter(sigma):
    x = torch.from_numpy(np.random.default_rng(1).random((2, 3, 24, 20)))  # float64, non-square
    ours = gaussian_blur(x, sigma).numpy()
    # scipy's "reflect" is the half-sample symmetric border we claim; truncate=4 is its default.
    ref = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect", truncate=4.0)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_jpeg_is_a_pillow_round_trip():
    x = _img(2, 32, 32)
    out = parse_degradation("bicubic:2+jpeg:q=40")(x)
    lr = (bicubic_downsample(x, 2).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i in range(2):
        buf = io.BytesIO()
        Image.fromarray(lr[i]).save(buf, "JPEG", quality=40, subsampling=2)
        ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        np.testing.assert_array_equal((out[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), ref)


def test_lower_jpeg_quality_loses_more():
    x = torch.from_numpy(ndimage.gaussian_filter(np.random.default_rng(0).random((1, 3, 64, 64)), (0, 0, 2, 2))).float()
    errs = [
        float((parse_degradation(f"bicubic:2+jpeg:q={q}")(x) - bicubic_downsample(x, 2).clamp(0, 1)).abs().mean())
        for q in (90, 50, 10)
    ]
    assert errs[0] < errs[1] < errs[2]


def test_area_and_nearest_down_by_hand():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) / 400
    area = parse_degradation("down:4")(x)
    by_hand = x.numpy().reshape(2, 3, 2, 4, 2, 4).mean(axis=(3, 5))
    np.testing.assert_allclose(area.numpy(), by_hand, atol=1e-7)
    nearest = parse_degradation("down:4,kernel=nearest")(x)
    np.testing.assert_array_equal(nearest.numpy(), x.numpy()[:, :, 0::4, 0::4])


def test_bilinear_down_matches_pillow():
    x = _img(1, 64, 64, seed=3)
    ours = parse_degradation("down:4,kernel=bilinear")(x)[0].numpy()
    for c in range(3):
        ref = np.asarray(Image.fromarray(x[0, c].numpy().astype(np.float32), mode="F").resize((16, 16), Image.BILINEAR))
        np.testing.assert_allclose(ours[c], ref, atol=2e-3)


def test_bicubic_spec_is_the_clamped_matlab_downsample():
    x = _img()
    expected = bicubic_downsample(x, 4).clamp(0, 1)
    np.testing.assert_array_equal(parse_degradation("bicubic:4")(x).numpy(), expected.numpy())


def test_noise_is_seeded_per_image_not_per_batch():
    x = torch.full((3, 3, 16, 16), 0.5)
    d = parse_degradation("bicubic:2+noise:sigma=10")
    full = d(x, ["a.jpg", "b.jpg", "c.jpg"])
    alone = d(x[1:2], ["b.jpg"])
    np.testing.assert_array_equal(full[1].numpy(), alone[0].numpy())
    assert not torch.equal(full[0], full[1])  # different images, different noise
    other_seed = parse_degradation("bicubic:2+noise:sigma=10,seed=1")(x[1:2], ["b.jpg"])
    assert not torch.equal(other_seed, alone)
    # σ = 10 on the 0..255 scale; mid-grey so nothing is clamped
    big = parse_degradation("bicubic:2+noise:sigma=10")(torch.full((4, 3, 128, 128), 0.5), list("abcd"))
    assert float((big - 0.5).std() * 255) == pytest.approx(10, rel=0.03)


def test_noise_is_identical_in_another_process():
    code = (
        "import torch, hashlib; from srfacebench.degradations import parse_degradation as p;"
        "y = p('bicubic:2+noise:sigma=7,seed=5')(torch.full((2, 3, 8, 8), 0.5), ['x/1.jpg', 'y/2.jpg']);"
        "print(hashlib.sha256(y.numpy().tobytes()).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    here = parse_degradation("bicubic:2+noise:sigma=7,seed=5")(torch.full((2, 3, 8, 8), 0.5), ["x/1.jpg", "y/2.jpg"])
    assert hashlib.sha256(here.numpy().tobytes()).hexdigest() == other


def test_noise_without_keys_is_an_error():
    with pytest.raises(DegradationError, match="key"):
        parse_degradation("bicubic:2+noise:sigma=5")(torch.zeros(1, 3, 8, 8))


def test_realistic_is_the_composite_in_order():
    x = _img(2, 32, 32)
    keys = ["p", "q"]
    composite = parse_degradation("realistic:4,sigma=1.5,noise=5,q=50")(x, keys)
    chain = parse_degradation("blur:sigma=1.5+bicubic:4+noise:sigma=5+jpeg:q=50")(x, keys)
    np.testing.assert_array_equal(composite.numpy(), chain.numpy())


def test_labels_are_canonical_and_scales_multiply():
    assert parse_degradation("bicubic:scale=4").label == "bicubic:4"
    assert parse_degradation(" Blur: sigma=2.0 + bicubic:4 ").label == "blur:sigma=2+bicubic:4"
    assert parse_degradation("noise:sigma=10,seed=0+bicubic:4").label == "noise:sigma=10+bicubic:4"
    assert parse_degradation("down:2+bicubic:4").scale == 8
    assert parse_degradation("realistic:8").describe()["ops"][0]["steps"][1] == {
        "op": "bicubic",
        "scale": 8,
        "clamp": [0.0, 1.0],
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("blurr:sigma=2+bicubic:4", r"\(did you mean 'blur'"),
        ("blur:sigma=2", "does not down-sample"),
        ("bicubic:4+jpeg:quality=30", "no parameter 'quality'; it takes q"),
        ("bicubic:4+jpeg:q=0", "1..95"),
        ("bicubic:1", ">= 2"),
        ("bicubic:four", "not a int"),
        ("down:4,kernel=lanczos", "kernel must be"),
        ("", "empty"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(DegradationError, match=message):
        parse_degradation(spec)


def test_grid_expansion_and_severity_families():
    specs = expand_specs(["blur:sigma={0.5,1,2}+bicubic:4", "bicubic:4+jpeg:q={30,60}", "bicubic:4"])
    assert specs == [
        "blur:sigma=0.5+bicubic:4",
        "blur:sigma=1+bicubic:4",
        "blur:sigma=2+bicubic:4",
        "bicubic:4+jpeg:q=30",
        "bicubic:4+jpeg:q=60",
        "bicubic:4",
    ]
    fams = severity_families(specs)
    # the undegraded bicubic:4 joins each family at sigma 0 / quality 100
    assert [(v, lab) for _, v, lab in fams["blur:sigma=*+bicubic:4"]][:2] == [(0.0, "bicubic:4"), (0.5, specs[0])]
    assert [v for _, v, _ in fams["blur:sigma=*+bicubic:4"]] == [0.0, 0.5, 1.0, 2.0]
    assert [v for _, v, _ in fams["bicubic:4+jpeg:q=*"]] == [30.0, 60.0, 100.0]
    assert "bicubic:*" not in fams  # one scale only
