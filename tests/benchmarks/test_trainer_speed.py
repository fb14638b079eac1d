"""The trainer's step against the bare SRResNet step on the same batch (issue: within 1.3x on CUDA).

Run: python -m pytest tests/benchmarks/test_trainer_speed.py --benchmark-only -p no:cacheprovider -s
On CUDA (the lent H200) this measures the GPU path; without CUDA, the CPU one.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srfacebench.degradations import parse_degradation
from srfacebench.reference_models.srresnet import SRResNet
from srfacebench.train import TrainConfig, _batch, make_optimizer, train_step

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
STEPS = 50 if DEVICE == "cuda" else 3


@pytest.fixture(scope="module")
def chips():
    rng = np.random.default_rng(0)
    n = 4872 if DEVICE == "cuda" else 64
    return torch.from_numpy(rng.integers(0, 256, (n, 3, 160, 160), dtype=np.uint8)).to(DEVICE)


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


@pytest.mark.parametrize("scale", [4, 8])
def test_bare_model_step(benchmark, chips, scale):
    cfg = TrainConfig(data_root="", out="", scale=scale, batch_size=16, patch=96, device=DEVICE)
    model = SRResNet(scale).to(DEVICE).train()
    opt = make_optimizer(model, 1e-4, DEVICE)
    hr = _batch(chips, cfg, 0, 96)
    lr = parse_degradation(f"bicubic:{scale}")(hr)

    def run():
        for _ in range(STEPS):
            loss = F.mse_loss(model(lr), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync()

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["ms_per_step"] = benchmark.stats.stats.min / STEPS * 1e3


@pytest.mark.parametrize("scale", [4, 8])
def test_trainer_step(benchmark, chips, scale):
    cfg = TrainConfig(data_root="", out="", scale=scale, batch_size=16, patch=96, device=DEVICE)
    model = SRResNet(scale).to(DEVICE).train()
    opt = make_optimizer(model, 1e-4, DEVICE)
    degrade = parse_degradation(f"bicubic:{scale}")
    step = iter(range(10**9))

    def run():
        for _ in range(STEPS):
            train_step(model, opt, _batch(chips, cfg, next(step), 96), degrade, None, (1.0, 0.0))
        _sync()

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["ms_per_step"] = benchmark.stats.stats.min / STEPS * 1e3
