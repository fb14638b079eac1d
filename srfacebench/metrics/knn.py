"""k-nearest-neighbour search by squared L2, exact or approximate, with the backend chosen by size
and device.

Backends (:data:`BACKENDS`):

* ``faiss-flat`` — exact, FAISS ``IndexFlatL2`` (faiss-gpu's when it sees a GPU).
* ``torch`` — exact, matrix product + top-k in query chunks (:func:`knn_torch`); the GPU path
  when faiss-gpu is not installed.
* ``faiss-hnsw`` — approximate, FAISS ``IndexHNSWFlat`` (graph; CPU).
* ``faiss-ivf`` — approximate, FAISS ``IndexIVFFlat`` (k-means lists, ``nprobe`` of them searched).

``method="auto"`` (:func:`choose_backend`) searches exactly while queries × gallery stays within
``approximate_above`` comparisons (an exact search costs 2·queries·gallery·d flops: 4,324 LFW
probes against a million distractors is cheap, a million-face leave-one-out is not) and with IVF
past it: on this project's 2-core CPU it beat HNSW at every size and dimension measured (at 10⁶
× 128, 9× faster than exact against HNSW's 3×, recall@1 0.97 for both). An approximate search is
never reported without its quality: :func:`search` measures recall@k against an exact search of
a seeded sample of the queries and returns it in :class:`SearchInfo`, which callers record in
their results. The threshold and the index parameters come from
``tests/benchmarks/test_knn_scaling.py`` (``docs/benchmarks.md``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "APPROXIMATE_ABOVE",
    "BACKENDS",
    "SearchInfo",
    "choose_backend",
    "exact_search",
    "knn_torch",
    "search",
]

BACKENDS = ("faiss-flat", "torch", "faiss-hnsw", "faiss-ivf")
EXACT = frozenset({"faiss-flat", "torch"})
METHODS = ("auto", "exact", *BACKENDS)
#: queries × gallery comparisons past which ``auto`` goes approximate: 200,000² — an exact
#: leave-one-out search of 200,000 128-d embeddings, minutes on the 2-core CI machine, growing
#: with N² (docs/benchmarks.md)
APPROXIMATE_ABOVE = 200_000**2
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class SearchInfo:
    """How a search was done: backend, whether exact, sizes, index parameters, wall time and, for
    an approximate backend, recall@k against exact search on ``recall_sample`` seeded queries."""

    backend: str
    exact: bool
    n_gallery: int
    n_queries: int
    dim: int
    k: int
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    recall: dict[int, float] | None = None
    recall_sample: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recall"] = None if self.recall is None else {str(k): v for k, v in self.recall.items()}
        return d


def _faiss_gpus() -> int:
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a core dependency
        return 0
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def choose_backend(n_gallery: int, n_queries: int, device: str = "cpu", method: str = "auto",
                   approximate_above: int = APPROXIMATE_ABOVE) -> str:  # fmt: skip
    """The backend ``method`` means for ``n_queries`` searches of a gallery of ``n_gallery`` on ``device``."""
    if method not in METHODS:
        raise ValueError(f"unknown kNN search {method!r}; choose one of {', '.join(METHODS)}")
    if method in BACKENDS:
        return method
    gpu = device.startswith("cuda")
    exact = "faiss-flat" if not gpu or _faiss_gpus() > 0 else "torch"
    if method == "exact" or n_gallery * n_queries <= approximate_above:
        return exact
    if gpu and _faiss_gpus() == 0:
        return "torch"  # exact torch on a GPU is fast enough (10⁶ × 128 in 18 s on an H200)
    return "faiss-ivf"


def knn_torch(
    gallery: np.ndarray, queries: np.ndarray, k: int, device: str = "cpu", chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-NN by squared L2 with torch (matrix product + top-k), queries in chunks.

    float64 on CPU (so that near-ties order as FAISS's exact search does), float32 on GPU.
    ``chunk`` defaults to what fits in a quarter of the device's free memory (CUDA) or in
    256 MiB of distances (CPU, at most 4,096 queries: a 4,096-query block against 300,000 gallery
    entries would be 10 GB in float64; the scaling benchmark found it). Returns (squared
    distances, indices) as float32 / int64 numpy arrays, nearest first, like FAISS's
    ``IndexFlatL2.search``.
    """
    import torch

    dtype = torch.float32 if device.startswith("cuda") else torch.float64
    g = torch.as_tensor(np.asarray(gallery), dtype=dtype, device=device)
    q_all = torch.as_tensor(np.asarray(queries), dtype=dtype, device=device)
    if chunk is None:
        if device.startswith("cuda"):
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            chunk = max(1, int(free // 4 // (g.shape[0] * torch.finfo(dtype).bits // 8 * 2)))
        else:
            chunk = max(1, min(4096, 2**28 // (g.shape[0] * torch.finfo(dtype).bits // 8)))
    g_sq = (g * g).sum(1)
    dists, idxs = [], []
    for s in range(0, q_all.shape[0], chunk):
        q = q_all[s : s + chunk]
        d = (q * q).sum(1, keepdim=True) - 2.0 * q @ g.T + g_sq[None, :]
        val, idx = torch.topk(d.clamp_min_(0.0), k, dim=1, largest=False, sorted=True)
        dists.append(val.float().cpu())
        idxs.append(idx.cpu())
    return torch.cat(dists).numpy(), torch.cat(idxs).numpy().astype(np.int64)


def exact_search(
    gallery: np.ndarray, queries: np.ndarray, k: int, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (squared distances, indices), nearest first: FAISS flat (GPU where faiss-gpu sees
    one), torch on a GPU without faiss-gpu."""
    if device.startswith("cuda") and _faiss_gpus() == 0:
        return knn_torch(gallery, queries, k, device)
    import faiss

    g = np.ascontiguousarray(gallery, dtype=np.float32)
    index = faiss.IndexFlatL2(g.shape[1])
    if _faiss_gpus() > 0:  # pragma: no cover - GPU only
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(g)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def _approximate_index(backend: str, g: np.ndarray, seed: int) -> tuple[Any, dict[str, Any]]:
    import faiss

    n, d = g.shape
    if backend == "faiss-hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(g)
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index, {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
    # 4·√N lists, trained on 40 points each; 16 of them searched: at N = 300,000 (d = 128) a
    # leave-one-out search 4.4× faster than exact with recall@1 0.99 (√N lists and a 32nd of
    # them searched, the first setting measured, was only 2× faster: FAISS scans a list without
    # BLAS, so a smaller share must be searched to win; docs/benchmarks.md)
    nlist = max(1, min(n // 39, int(4 * np.sqrt(n))))
    nprobe = min(nlist, 16)
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist)
    rng = np.random.default_rng(seed)
    train = g[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))]
    index.cp.seed = seed
    index.train(train)
    index.add(g)
    index.nprobe = nprobe
    if _faiss_gpus() > 0:  # pragma: no cover - GPU only
        index = faiss.index_cpu_to_all_gpus(index)
    return index, {"nlist": nlist, "nprobe": nprobe, "train": int(train.shape[0])}


def search(
    gallery: np.ndarray,
    queries: np.ndarray,
    k: int,
    *,
    method: str = "auto",
    device: str = "cpu",
    approximate_above: int = APPROXIMATE_ABOVE,
    recall_sample: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, SearchInfo]:
    """(squared distances, indices, how) of the ``k`` nearest gallery entries of every query.

    An approximate backend's recall@k (for k = 1 and ``k``) is measured on ``recall_sample``
    queries (seeded) against an exact search of the same queries: recall@1 is the share whose
    first result is as near as the exact nearest; recall@k the mean share of the exact k nearest
    that the approximate search returned.
    """
    g = np.ascontiguousarray(gallery, dtype=np.float32)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if g.ndim != 2 or q.ndim != 2 or g.shape[1] != q.shape[1]:
        raise ValueError(f"gallery {g.shape} and queries {q.shape} must be N×d with the same d")
    if not 1 <= k <= g.shape[0]:
        raise ValueError(f"k must be in [1, {g.shape[0]}] (the gallery size), got {k}")
    backend = choose_backend(g.shape[0], q.shape[0], device, method, approximate_above)
    t0 = time.perf_counter()
    if backend == "torch":
        dist, idx = knn_torch(g, q, k, device)
        params: dict[str, Any] = {}
    elif backend == "faiss-flat":
        dist, idx = exact_search(g, q, k, device)
        params = {}
    else:
        index, params = _approximate_index(backend, g, seed)
        dist, idx = index.search(q, k)
    seconds = time.perf_counter() - t0
    if (idx < 0).any():
        raise RuntimeError(
            f"the {backend} search ({params}) found fewer than {k} neighbours for "
            f"{int((idx < 0).any(axis=1).sum())} of {q.shape[0]} queries; use an exact search"
        )
    recall, sample = None, 0
    if backend not in EXACT:
        recall, sample = _recall(g, q, dist, idx, k, device, recall_sample, seed)
    info = SearchInfo(backend, backend in EXACT, g.shape[0], q.shape[0], g.shape[1], k, seconds, params,
                      recall, sample)  # fmt: skip
    return dist, idx.astype(np.int64), info


def _recall(
    g: np.ndarray, q: np.ndarray, dist: np.ndarray, idx: np.ndarray, k: int, device: str, sample: int, seed: int
) -> tuple[dict[int, float], int]:
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(q.shape[0], size=min(sample, q.shape[0]), replace=False))
    d_ex, i_ex = exact_search(g, q[rows], k, device)
    tol = 1e-5 * np.maximum(1.0, np.abs(d_ex[:, :1]))
    at1 = float(np.mean(dist[rows, 0] <= d_ex[:, 0] + tol[:, 0]))
    atk = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[rows], i_ex, strict=True)]))
    return ({1: at1, k: atk} if k > 1 else {1: at1}), int(rows.size)
