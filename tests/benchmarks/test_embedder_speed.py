"""Embedding throughput: the torch port (fp32, channels-last, bf16) against dlib's C++.

Run on demand (not in CI):
    python -m pytest tests/benchmarks -p no:cacheprovider --benchmark-only --benchmark-columns=mean,ops
Results and the machine go in docs/benchmarks.md. Throughput = 64 / mean seconds.
"""

import numpy as np
import pytest
import torch

dlib = pytest.importorskip("dlib")

from srfacebench.embedders.dlib_resnet import DlibResNet29, find_dlib_model_file  # noqa: E402

N = 64


@pytest.fixture(scope="module")
def chips():
    rng = np.random.default_rng(0)
    # Smooth random "faces" suffice for timing; parity is tested on real chips elsewhere.
    return (rng.random((N, 150, 150, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def net():
    return DlibResNet29().eval()


def _batch(chips):
    return torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 255


def test_dlib_cpp_batched(benchmark, chips):
    rec = dlib.face_recognition_model_v1(str(find_dlib_model_file()))
    images = list(chips)
    benchmark.pedantic(lambda: rec.compute_face_descriptor(images), rounds=3, iterations=1, warmup_rounds=1)


def test_torch_fp32(benchmark, chips, net):
    x = _batch(chips)
    with torch.inference_mode():
        benchmark.pedantic(lambda: net(x), rounds=3, iterations=1, warmup_rounds=1)


def test_torch_channels_last(benchmark, chips, net):
    x = _batch(chips).contiguous(memory_format=torch.channels_last)
    m = DlibResNet29().eval().to(memory_format=torch.channels_last)
    with torch.inference_mode():
        ref = net(_batch(chips))
        assert (m(x) - ref).abs().max() <= 1e-5
        benchmark.pedantic(lambda: m(x), rounds=3, iterations=1, warmup_rounds=1)


def test_torch_bf16_drift(benchmark, chips, net):
    x = _batch(chips)
    with torch.inference_mode():
        ref = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x).float()
        drift = (out - ref).abs().max().item()
        benchmark.extra_info["bf16_max_abs_drift"] = drift
        print(f"bf16 max |drift| vs fp32: {drift:.3e}")

        def run():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return net(x)

        benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("fold", [True, False], ids=["bn-folded", "bn-as-written"])
def test_mobileface_v2_fp32(benchmark, chips, fold):
    """MobileFace V2 on 160-px dlib chips (warped to 112 px with the fixed chip-to-template map),
    its BatchNorms folded into the layers they read (the default in eval mode) or as written."""
    from srfacebench.embedders.mobileface import MobileFaceV2

    m = MobileFaceV2().eval()
    m.graph.fold_batchnorm = fold
    x = torch.nn.functional.interpolate(_batch(chips), size=(160, 160), mode="bilinear")
    with torch.inference_mode():
        benchmark.pedantic(lambda: m(x), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["embeddings_per_s"] = N / benchmark.stats.stats.min


def test_mobileface_v2_with_landmarks(benchmark, chips):
    """The same with per-image landmarks (one similarity fit and warp per image)."""
    from srfacebench.embedders.mobileface import DLIB_CHIP_FIVE_POINTS, MobileFaceV2

    m = MobileFaceV2().eval()
    x = torch.nn.functional.interpolate(_batch(chips), size=(160, 160), mode="bilinear")
    lm = (DLIB_CHIP_FIVE_POINTS * 160).float().expand(N, 5, 2) + torch.randn(N, 5, 2)
    with torch.inference_mode():
        benchmark.pedantic(lambda: m(x, landmarks=lm), rounds=3, iterations=1, warmup_rounds=1)
