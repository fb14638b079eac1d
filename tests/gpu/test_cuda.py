"""The gpu tier: CUDA results against CPU results, within stated tolerances. Skipped without CUDA.

Tolerances: embeddings 1e-3 absolute (TF32/cuDNN kernels differ from CPU ones); verification
metrics identical except at pairs whose distances tie within 1e-5; training losses of the first
steps within 1e-3 relative (same seed, same batches, different kernels).
"""

import csv

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


@pytest.mark.parametrize("name", ["dlib-resnet29", "mobileface-v2"])
def test_embedders_on_cuda_match_cpu(name):
    from srfacebench.registry import load_embedder

    net = load_embedder(name).eval()
    x = torch.rand(8, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cpu = net(x)
        gpu = net.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-3, rtol=1e-3)


def test_knn_on_cuda_matches_faiss_cpu():
    from srfacebench.metrics.identification import knn_torch
    from srfacebench.metrics.knn import exact_search

    e = np.random.default_rng(0).normal(size=(3000, 128)).astype(np.float32)
    d_ref, i_ref = exact_search(e, e, 11)
    d, i = knn_torch(e, e, 11, "cuda", chunk=512)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, atol=1e-3, rtol=1e-5)


def test_demo_run_on_cuda_matches_cpu(tmp_path):
    from srfacebench.demo import run_demo

    kw = dict(cache_dir=tmp_path / "cache", progress=False, report=False, scales=[4])
    cpu = {(r.model, r.degradation, r.metric): r.value for r in run_demo(out=tmp_path / "cpu", **kw).rows}
    gpu = {
        (r.model, r.degradation, r.metric): r.value for r in run_demo(out=tmp_path / "gpu", device="cuda", **kw).rows
    }
    assert set(cpu) == set(gpu)
    for k, v in cpu.items():
        tol = 1e-4 if k[2] in ("psnr_y", "ssim_y", "fr_loss") else 1e-9
        assert gpu[k] == pytest.approx(v, rel=tol, abs=tol), k


def test_training_steps_of_both_phases_on_cuda_match_cpu(celeba_tree, tmp_path):
    from srfacebench.train import TrainConfig, train

    def cfg(device):
        return TrainConfig(data_root=str(celeba_tree), out=str(tmp_path / device), scale=2, base_steps=3,
                           finetune_steps=2, batch_size=4, patch=32, channels=8, blocks=1, val_identities=1,
                           val_images=2, checkpoint_every=2, cache_dir=str(tmp_path / "cache"), seed=5,
                           device=device)  # fmt: skip

    train(cfg("cpu"))
    train(cfg("cuda"))
    for phase in ("base", "vanilla", "fr"):
        rows = [list(csv.DictReader((tmp_path / d / phase / "losses.csv").open())) for d in ("cpu", "cuda")]
        first_cpu, first_gpu = float(rows[0][0]["loss"]), float(rows[1][0]["loss"])
        assert first_gpu == pytest.approx(first_cpu, rel=1e-3), phase


@pytest.mark.parametrize("name", ["span-x4-ch52", "srmdnf-x4", "upscalerjs-thick-x8"])
def test_zoo_models_on_cuda_match_cpu(name):
    """Zoo ports on CUDA against the CPU within 1/255 (TF32 off: the bound is the port's, not TF32's)."""
    from srfacebench.errors import ModelError
    from srfacebench.zoo.models import load_entry

    try:
        cpu = load_entry(name)
    except ModelError as e:
        pytest.skip(str(e))
    gpu = load_entry(name, device="cuda")
    lr = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    prev = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad():
            torch.testing.assert_close(gpu(lr.cuda()).cpu(), cpu(lr), atol=1 / 255, rtol=0)
    finally:
        torch.backends.cudnn.allow_tf32 = prev
