"""Leave-one-out kNN at scale: N = 10⁴ … 10⁶ synthetic embeddings, d = 128/256/512, every backend
of :mod:`srfacebench.metrics.knn`: time, peak memory and (approximate backends) recall against
exact search.

Run on demand (about 25 minutes on the 2-core CI machine kind):
    python -m pytest tests/benchmarks/test_knn_scaling.py -p no:cacheprovider --benchmark-only -s
then ``python scripts/bench/knn_scaling_report.py`` writes the table and plot of docs/benchmarks.md
from ``tests/benchmarks/results/knn_scaling.json``.

Method. The embeddings are clustered like face embeddings (N/10 identities of 10 images: centre
+ noise, so that same-identity neighbours exist; seeded). A full leave-one-out search is N
queries; past ``QUERIES`` queries, each backend searches a seeded sample of ``QUERIES`` of them
and its time is scaled by N / QUERIES (a search's cost is linear in its queries: every query is
independent; the approximate backends' build time is measured whole and not scaled). Peak memory
is the process's resident high-water mark (``VmHWM``, reset before each case), so FAISS's C++
allocations count. Recall@1 and recall@10 of an approximate backend are measured on the same
sampled queries against the exact ones.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from srfacebench.metrics import knn

NS = [10_000, 30_000, 100_000, 300_000, 1_000_000]
DIMS = [128, 256, 512]
K = 10
QUERIES = 4_000
RESULTS = Path(__file__).parent / "results" / "knn_scaling.json"
# HNSW's build grows as N·log N·d with a large constant on 2 cores: measured up to these sizes
HNSW_MAX = {128: 1_000_000, 256: 300_000, 512: 100_000}


@functools.lru_cache(maxsize=1)
def _data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n + d)
    centres = rng.normal(size=(max(1, n // 10), d)).astype(np.float32)
    emb = centres[np.arange(n) // 10 % len(centres)] + 0.35 * rng.normal(size=(n, d)).astype(np.float32)
    rows = np.sort(rng.choice(n, size=min(n, QUERIES), replace=False))
    return emb, rows


@functools.lru_cache(maxsize=1)
def _exact(n: int, d: int) -> np.ndarray:
    emb, rows = _data(n, d)
    return knn.exact_search(emb, emb[rows], K + 1)[1]


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _record(row: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    rows = [r for r in rows if (r["backend"], r["n"], r["d"]) != (row["backend"], row["n"], row["d"])] + [row]
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, RESULTS)


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("backend", ["faiss-flat", "torch", "faiss-ivf", "faiss-hnsw"])
def test_scaling(benchmark, backend, n, d):
    if backend == "faiss-hnsw" and n > HNSW_MAX[d]:
        pytest.skip(f"HNSW build at N={n}, d={d} is past this machine's budget (see HNSW_MAX)")
    if backend == "torch" and n > 300_000 and d > 128:
        pytest.skip("float64 torch search past 300,000 × 128: the slowest exact path, its trend is set")
    emb, rows = _data(n, d)
    q = emb[rows]
    _reset_peak()
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    if backend in ("faiss-flat", "torch"):
        build = 0.0
        _, idx = knn.exact_search(emb, q, K + 1) if backend == "faiss-flat" else knn.knn_torch(emb, q, K + 1)
        params: dict = {}
    else:
        index, params = knn._approximate_index(backend, emb, seed=0)
        build = time.perf_counter() - t0
        _, idx = index.search(q, K + 1)
    total = time.perf_counter() - t0
    search = total - build
    peak = _peak_mb()
    full = build + search * n / len(rows)
    floor_s = 2.0 * n * n * d / (MATMUL_GFLOPS * 1e9)
    row = {"backend": backend, "n": n, "d": d, "queries": len(rows), "build_s": build, "search_s": search,
           "loo_s": full, "floor_s": floor_s, "vs_floor": full / floor_s, "peak_mb": peak,
           "peak_over_start_mb": peak - base_mb, "data_mb": emb.nbytes / 2**20, "params": params}  # fmt: skip
    if backend in ("faiss-hnsw", "faiss-ivf"):
        ex = _exact(n, d)
        row["recall@1"] = _recall(idx, ex, rows, 1)
        row["recall@10"] = _recall(idx, ex, rows, K)
    _record(row)
    benchmark.extra_info.update(row)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\n{backend} N={n} d={d}: leave-one-out {full:.1f} s (build {build:.1f} s), {full / floor_s:.2f}× floor, "
          f"peak {peak:.0f} MB" + (f", recall@1 {row['recall@1']:.4f}" if "recall@1" in row else ""))  # fmt: skip


def _recall(idx: np.ndarray, exact: np.ndarray, rows: np.ndarray, k: int) -> float:
    """Share of the exact k nearest *other* images the search returned (self removed from both)."""
    hits = []
    for r, a, b in zip(rows, idx, exact, strict=True):
        a = [j for j in a if j != r][:k]
        b = [j for j in b if j != r][:k]
        hits.append(len(set(a) & set(b)) / k)
    return float(np.mean(hits))


MATMUL_GFLOPS = 157.0  # this machine kind's fp32 matmul rate (test_knn_speed.py::test_matmul_rate)
