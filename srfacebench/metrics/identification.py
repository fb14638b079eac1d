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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .knn import SearchInfo, knn_torch, search

__all__ = [
    "IdentificationResult",
    "cmc_curve",
    "fnir_at_fpir",
    "identification_metrics",
    "knn_accuracy",
    "knn_leave_one_out",
    "knn_torch",
    "knn_vote",
    "leave_one_out",
    "probe_ranks",
    "synthetic_distractors",
]


def knn_leave_one_out(
    embeddings: np.ndarray, k: int, device: str = "cpu", *, rows: np.ndarray | None = None, **search_kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(squared distances, indices), each N×k: the k nearest *other* images of every image (of
    the images ``rows``, when given). Exact unless ``search_kw`` says otherwise
    (:func:`leave_one_out` also returns how the search was done)."""
    dist, idx, _ = leave_one_out(embeddings, k, device, rows=rows, **({"method": "exact"} | search_kw))
    return dist, idx


def leave_one_out(
    embeddings: np.ndarray, k: int, device: str = "cpu", *, rows: np.ndarray | None = None, **search_kw: Any
) -> tuple[np.ndarray, np.ndarray, SearchInfo]:
    """:func:`knn_leave_one_out` with the :class:`~srfacebench.metrics.knn.SearchInfo` of its
    search (``search_kw``: ``method``, ``approximate_above``, ``recall_sample``, ``seed`` of
    :func:`srfacebench.metrics.knn.search`; on ``device="cuda"`` the search runs on the GPU)."""
    e = np.asarray(embeddings)
    if e.ndim != 2:
        raise ValueError(f"embeddings must be N×d, got shape {e.shape}")
    n = e.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N-1] = [1, {n - 1}], got {k}")
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    dist, idx, info = search(e, e[rows], k + 1, device=device, **search_kw)
    self_mask = idx == rows[:, None]
    # Drop the probe itself where it appears; otherwise drop the farthest (k+1-th) neighbour.
    no_self = ~self_mask.any(axis=1)
    self_mask[no_self, k] = True
    keep = ~self_mask
    return dist[keep].reshape(rows.size, k), idx[keep].reshape(rows.size, k), info


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
    embeddings: np.ndarray,
    labels: np.ndarray,
    targets: tuple[float, ...] = (0.1, 0.01),
    seed: int = 0,
    device: str = "cpu",
    searches: list[SearchInfo] | None = None,
    **search_kw: Any,
) -> dict[float, float]:
    """Open-set FNIR at each target FPIR (construction in the module docstring). Images labelled
    < 0 are distractors: always in the gallery, never searched. How each search was done is
    appended to ``searches``."""
    e = np.asarray(embeddings, dtype=np.float32)
    lab = np.asarray(labels)
    ids = np.unique(lab[lab >= 0])
    if ids.size < 4:
        raise ValueError(f"open-set identification needs at least 4 identities, got {ids.size}")
    rng = np.random.default_rng(seed)
    enrolled = set(rng.permutation(ids)[: ids.size // 2].tolist())
    gallery, mated, nonmated = [], [], []
    seen: set[int] = set()
    for i, lbl in enumerate(lab.tolist()):
        if lbl < 0:
            gallery.append(i)
        elif lbl not in enrolled:
            nonmated.append(i)
        elif lbl in seen:
            mated.append(i)
        else:
            seen.add(lbl)
            gallery.append(i)
    if not mated or not nonmated:
        raise ValueError("open-set identification needs enrolled identities with ≥ 2 images and non-enrolled ones")
    g = np.asarray(gallery)
    d_m, i_m, info_m = search(e[g], e[mated], 1, device=device, **({"seed": seed} | search_kw))
    d_n, _, info_n = search(e[g], e[nonmated], 1, device=device, **({"seed": seed} | search_kw))
    if searches is not None:
        searches += [info_m, info_n]
    correct = lab[g][i_m[:, 0]] == lab[mated]
    d_m, d_n = d_m[:, 0].astype(np.float64), np.sort(d_n[:, 0].astype(np.float64))
    out = {}
    for target in targets:
        allowed = int(np.floor(target * d_n.size + 1e-9))  # non-mated hits allowed at FPIR <= target
        # Largest threshold with at most `allowed` non-mated distances <= t: just below the next one.
        t = np.nextafter(d_n[allowed], -np.inf) if allowed < d_n.size else np.inf
        out[target] = float(np.mean(~(correct & (d_m <= t))))
    return out


def synthetic_distractors(reference: np.ndarray, n: int, seed: int = 0, normalise: bool = False) -> np.ndarray:
    """``n`` synthetic embeddings (float32), *not faces*: draws from the Gaussian with the mean and
    covariance of ``reference`` (e.g. the HR embeddings of the searched set), L2-normalised when
    ``normalise`` (cosine networks). The same seed and reference give the same draws."""
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[0] < 2:
        raise ValueError(f"synthetic distractors need ≥ 2 reference embeddings (N×d), got shape {ref.shape}")
    rng = np.random.default_rng(seed)
    cov = np.cov(ref, rowvar=False) + 1e-9 * np.eye(ref.shape[1])
    out = np.empty((n, ref.shape[1]), np.float32)
    for s in range(0, n, 65536):  # in blocks: 10^6 × 512 float64 draws would need 4 GB at once
        m = min(65536, n - s)
        out[s : s + m] = rng.multivariate_normal(ref.mean(0), cov, size=m, method="cholesky")
    if normalise:
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


@dataclass(frozen=True)
class IdentificationResult:
    """Metrics over the probes (images labelled ≥ 0); ``ranks`` and ``knn_predictions`` are per
    probe, in ``probes`` order (a prediction of -1 is a distractor)."""

    knn_accuracy: dict[int, float]
    cmc: tuple[float, ...]
    ranks: np.ndarray
    knn_predictions: dict[int, np.ndarray]
    fnir: dict[float, float]
    n_probes: int
    probes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_distractors: int = 0
    searches: list[SearchInfo] = field(default_factory=list)

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
    **search_kw: Any,
) -> IdentificationResult:
    """All identification metrics from one shared kNN search (on ``device``; ``search_kw`` as
    :func:`srfacebench.metrics.knn.search`). Images labelled < 0 are distractors: in the gallery
    of every search, never probes."""
    lab = np.asarray(labels)
    n = lab.size
    probes = np.flatnonzero(lab >= 0)
    depth = min(max(max(ks), max_rank), n - 1)
    _, idx, info = leave_one_out(embeddings, depth, device, rows=probes, **({"seed": seed} | search_kw))
    nl = lab[idx]
    pl = lab[probes]
    ranks = probe_ranks(nl, pl)
    preds = {k: knn_vote(nl, k) for k in ks}
    searches = [info]
    fnir = fnir_at_fpir(embeddings, lab, fpir_targets, seed, device, searches, **search_kw) if fpir_targets else {}
    return IdentificationResult(
        knn_accuracy={k: float(np.mean(preds[k] == pl)) for k in ks},
        cmc=tuple(float(c) for c in cmc_curve(ranks, min(max_rank, depth))),
        ranks=ranks,
        knn_predictions=preds,
        fnir=fnir,
        n_probes=int(probes.size),
        probes=probes,
        n_distractors=int(n - probes.size),
        searches=searches,
    )
