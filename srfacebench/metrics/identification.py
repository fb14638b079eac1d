"""Closed- and open-set identification (FRVT-style) over embeddings with identity labels.

Conventions (recorded in results):

* **Leave-one-out kNN.** Every image is a probe against all *other* images. The search asks for
  ``k + 1`` neighbours and removes the probe by its index (never "the first neighbour": a
  duplicate image at distance 0 may come first). Distances are squared Euclidean (FAISS
  ``IndexFlatL2``; GPU when FAISS sees one). Ties in distance keep the index order FAISS returns.
* **kNN accuracy** (k = 1, 5, 10): majority vote among the k nearest; a tie between labels goes to
  the tied label whose nearest member ranks first.
* **Rank-k / CMC**: a probe's rank is the position (1-based) of the first neighbour of its own
  identity; the CMC at k is the share of probes with rank ≤ k, for k = 1..``max_rank``. A probe
  whose identity has no other image cannot be matched; such probes are counted as misses.
* **Open set (FNIR at FPIR).** Identities are split (seeded, sorted-name order shuffled) into
  halves: *enrolled* identities put their first image in a gallery; their other images are mated
  searches. Every image of the other half is a non-mated search. For a threshold t, FPIR(t) =
  share of non-mated searches whose nearest gallery distance ≤ t; FNIR(t) = share of mated
  searches whose nearest gallery entry is not their identity or is farther than t. Reported:
  FNIR at the largest t with FPIR ≤ the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "IdentificationResult",
    "cmc_curve",
    "fnir_at_fpir",
    "identification_metrics",
    "knn_accuracy",
    "knn_leave_one_out",
    "knn_torch",
    "knn_vote",
    "probe_ranks",
]


def _faiss_index(dim: int):
    import faiss

    index = faiss.IndexFlatL2(dim)
    if hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:  # pragma: no cover - GPU only
        index = faiss.index_cpu_to_all_gpus(index)
    return index


def _faiss_gpus() -> int:
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a core dependency
        return 0
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def knn_torch(
    gallery: np.ndarray, queries: np.ndarray, k: int, device: str = "cpu", chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-NN by squared L2 with torch (matrix product + top-k), queries in chunks.

    The GPU path when faiss-gpu is not installed. ``chunk`` defaults to what fits in a quarter of
    the device's free memory (CUDA) or 4,096 queries (CPU). Returns (squared distances, indices)
    as float32 / int64 numpy arrays, nearest first, like FAISS's ``IndexFlatL2.search``.
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
            chunk = 4096
    g_sq = (g * g).sum(1)
    dists, idxs = [], []
    for s in range(0, q_all.shape[0], chunk):
        q = q_all[s : s + chunk]
        d = (q * q).sum(1, keepdim=True) - 2.0 * q @ g.T + g_sq[None, :]
        val, idx = torch.topk(d.clamp_min_(0.0), k, dim=1, largest=False, sorted=True)
        dists.append(val.float().cpu())
        idxs.append(idx.cpu())
    return torch.cat(dists).numpy(), torch.cat(idxs).numpy().astype(np.int64)


def _search(gallery: np.ndarray, queries: np.ndarray, k: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    if device.startswith("cuda") and _faiss_gpus() == 0:
        return knn_torch(gallery, queries, k, device)
    g = np.ascontiguousarray(gallery, dtype=np.float32)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    index = _faiss_index(g.shape[1])
    index.add(g)
    return index.search(q, k)


def knn_leave_one_out(embeddings: np.ndarray, k: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(squared distances, indices), each N×k: the k nearest *other* images of every image.

    On ``device="cuda"`` the search runs on the GPU: faiss-gpu when installed, else
    :func:`knn_torch`.
    """
    e = np.asarray(embeddings)
    n = e.shape[0]
    if e.ndim != 2:
        raise ValueError(f"embeddings must be N×d, got shape {e.shape}")
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N-1] = [1, {n - 1}], got {k}")
    dist, idx = _search(e, e, k + 1, device)
    self_mask = idx == np.arange(n)[:, None]
    # Drop the probe itself where it appears; otherwise drop the farthest (k+1-th) neighbour.
    no_self = ~self_mask.any(axis=1)
    self_mask[no_self, k] = True
    keep = ~self_mask
    return dist[keep].reshape(n, k), idx[keep].reshape(n, k)


def probe_ranks(neighbour_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-based rank of each probe's first same-identity neighbour; 0 if not among them."""
    hits = neighbour_labels == np.asarray(labels)[:, None]
    first = hits.argmax(axis=1) + 1
    return np.where(hits.any(axis=1), first, 0)


def cmc_curve(ranks: np.ndarray, max_rank: int) -> np.ndarray:
    """CMC[k-1] = share of probes with 1 <= rank <= k, for k = 1..max_rank."""
    r = np.asarray(ranks)
    found = r[r > 0]
    counts = np.bincount(found, minlength=max_rank + 1)[1 : max_rank + 1]
    return np.cumsum(counts) / r.size


def knn_vote(neighbour_labels: np.ndarray, k: int) -> np.ndarray:
    """Majority label among the first k neighbours; ties go to the label ranked first."""
    nl = np.asarray(neighbour_labels)[:, :k]
    out = np.empty(nl.shape[0], dtype=nl.dtype)
    for i, row in enumerate(nl):
        values, first_pos, counts = np.unique(row, return_index=True, return_counts=True)
        best = counts == counts.max()
        out[i] = values[best][np.argmin(first_pos[best])]
    return out


def knn_accuracy(neighbour_labels: np.ndarray, labels: np.ndarray, k: int) -> float:
    return float(np.mean(knn_vote(neighbour_labels, k) == np.asarray(labels)))


def fnir_at_fpir(
    embeddings: np.ndarray, labels: np.ndarray, targets: tuple[float, ...] = (0.1, 0.01), seed: int = 0
) -> dict[float, float]:
    """Open-set FNIR at each target FPIR (construction in the module docstring)."""
    e = np.asarray(embeddings, dtype=np.float32)
    lab = np.asarray(labels)
    ids = np.unique(lab)
    if ids.size < 4:
        raise ValueError(f"open-set identification needs at least 4 identities, got {ids.size}")
    rng = np.random.default_rng(seed)
    enrolled = set(rng.permutation(ids)[: ids.size // 2].tolist())
    gallery, mated = [], []
    seen: set[int] = set()
    for i, lbl in enumerate(lab.tolist()):
        if lbl in enrolled:
            if lbl in seen:
                mated.append(i)
            else:
                seen.add(lbl)
                gallery.append(i)
    nonmated = [i for i, lbl in enumerate(lab.tolist()) if lbl not in enrolled]
    if not mated or not nonmated:
        raise ValueError("open-set identification needs enrolled identities with ≥ 2 images and non-enrolled ones")
    g = np.asarray(gallery)
    d_m, i_m = _search(e[g], e[mated], 1)
    d_n, _ = _search(e[g], e[nonmated], 1)
    correct = lab[g][i_m[:, 0]] == lab[mated]
    d_m, d_n = d_m[:, 0].astype(np.float64), np.sort(d_n[:, 0].astype(np.float64))
    out = {}
    for target in targets:
        allowed = int(np.floor(target * d_n.size + 1e-9))  # non-mated hits allowed at FPIR <= target
        # Largest threshold with at most `allowed` non-mated distances <= t: just below the next one.
        t = np.nextafter(d_n[allowed], -np.inf) if allowed < d_n.size else np.inf
        out[target] = float(np.mean(~(correct & (d_m <= t))))
    return out


@dataclass(frozen=True)
class IdentificationResult:
    knn_accuracy: dict[int, float]
    cmc: tuple[float, ...]
    ranks: np.ndarray
    knn_predictions: dict[int, np.ndarray]
    fnir: dict[float, float]
    n_probes: int

    def metrics(self) -> dict[str, tuple[float, float | None]]:
        out: dict[str, tuple[float, float | None]] = {}
        for k, v in self.knn_accuracy.items():
            out[f"knn{k}_accuracy"] = (v, None)
        for k in (1, 5, 10):
            if k <= len(self.cmc):
                out[f"rank{k}"] = (self.cmc[k - 1], None)
        for t, v in self.fnir.items():
            out[f"fnir@fpir={t:g}"] = (v, None)
        return out


def identification_metrics(
    embeddings: np.ndarray,
    labels: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 10),
    max_rank: int = 50,
    fpir_targets: tuple[float, ...] = (0.1, 0.01),
    seed: int = 0,
    device: str = "cpu",
) -> IdentificationResult:
    """All identification metrics from one shared kNN search (on ``device``)."""
    lab = np.asarray(labels)
    n = lab.size
    depth = min(max(max(ks), max_rank), n - 1)
    _, idx = knn_leave_one_out(embeddings, depth, device)
    nl = lab[idx]
    ranks = probe_ranks(nl, lab)
    preds = {k: knn_vote(nl, k) for k in ks}
    return IdentificationResult(
        knn_accuracy={k: float(np.mean(preds[k] == lab)) for k in ks},
        cmc=tuple(float(c) for c in cmc_curve(ranks, min(max_rank, depth))),
        ranks=ranks,
        knn_predictions=preds,
        fnir=fnir_at_fpir(embeddings, lab, fpir_targets, seed) if fpir_targets else {},
        n_probes=n,
    )
