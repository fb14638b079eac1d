"""Leave-one-out kNN at N = 50,000: FAISS (ours) against scikit-learn's brute force.

Run on demand:
    python -m pytest tests/benchmarks/test_knn_speed.py -p no:cacheprovider --benchmark-only -s
The floor is 2·N²·d flops at the machine's matmul rate (printed by test_matmul_rate).
"""

import time

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from srfacebench.metrics.identification import knn_leave_one_out

N = 50_000
K = 50


@pytest.fixture(scope="module", params=[128, 512])
def emb(request):
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, request.param)).astype(np.float32)


def test_matmul_rate(benchmark):
    a = torch.randn(4096, 4096)
    t = benchmark.pedantic(lambda: a @ a, rounds=3, iterations=1, warmup_rounds=1)
    del t
    gflops = 2 * 4096**3 / benchmark.stats.stats.min / 1e9
    benchmark.extra_info["gflops"] = gflops
    print(f"fp32 matmul: {gflops:.0f} GFLOP/s")


def test_faiss_loo(benchmark, emb):
    benchmark.extra_info["floor_flops"] = 2 * N * N * emb.shape[1]
    benchmark.pedantic(lambda: knn_leave_one_out(emb, K), rounds=1, iterations=1)


def test_sklearn_brute(benchmark, emb):
    nn = NearestNeighbors(n_neighbors=K + 1, algorithm="brute", metric="euclidean").fit(emb)
    benchmark.pedantic(lambda: nn.kneighbors(emb), rounds=1, iterations=1)


def test_agreement_on_a_sample(emb):
    t0 = time.perf_counter()
    _, idx = knn_leave_one_out(emb[:5000], 10)
    nn = NearestNeighbors(n_neighbors=11, algorithm="brute").fit(emb[:5000])
    _, ref = nn.kneighbors(emb[:5000])
    ref = np.array([[j for j in row if j != i][:10] for i, row in enumerate(ref)])
    assert (idx == ref).mean() > 0.999  # float32 near-ties may swap
    print(f"agreement check {time.perf_counter() - t0:.1f}s")
