"""Scoring one protocol's images from a pool's embeddings: metric rows and per-item CSV lines."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data.faceset import FaceSet
from .losses import fr_distance
from .metrics.identification import identification_metrics
from .metrics.verification import pair_distances, verification_metrics
from .protocols import Protocol
from .results import MetricRow
from .streaming import Variant

__all__ = ["TaskOutput", "score_task"]

_AXES = ["protocol", "model", "scale", "degradation", "embedder"]
PAIRS_HEADER = [*_AXES, "pair", "fold", "label", "distance", "image_a", "image_b"]
PROBES_HEADER = [*_AXES, "probe", "image", "identity", "rank", "knn1", "knn5", "knn10"]
IMAGES_HEADER = [*_AXES, "image", "psnr_y", "ssim_y", "fr_loss"]


@dataclass
class TaskOutput:
    rows: list[MetricRow] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[list[Any]] = field(default_factory=list)
    probes: list[list[Any]] = field(default_factory=list)
    images: list[list[Any]] = field(default_factory=list)


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x))


def score_task(
    protocol: Protocol,
    faceset: FaceSet,
    index: np.ndarray,
    variants: list[Variant],
    embs: dict[str, np.ndarray],
    iqs: dict[str, np.ndarray],
    embedder_name: str,
    distance: str = "euclidean",
    device: str = "cpu",
) -> TaskOutput:
    """All rows of one protocol for one FR network: its task metrics per variant, and intrinsic
    metrics per SR variant.

    ``index[i]`` is the pool position of ``faceset.paths[i]``; ``embs`` and ``iqs`` are keyed by
    :attr:`Variant.id`. With ``distance="cosine"`` the embeddings are L2-normalised first, so
    pair distances, kNN ranks and the FR loss are those of cosine similarity.
    """
    out = TaskOutput()
    if distance not in ("euclidean", "cosine"):
        raise ValueError(f"FR network {embedder_name!r}: unknown distance {distance!r}")
    hr = next(v for v in variants if v.is_hr)
    prep = _l2_normalise if distance == "cosine" else (lambda e: e)
    hr_emb = prep(embs[hr.id][index])
    wanted = {m.name for m in protocol.metrics}

    def row(v: Variant, metric: str, value: float, std: float | None, n: int) -> None:
        if metric in wanted:
            out.rows.append(
                MetricRow(
                    v.model, v.scale, v.degradation, protocol.name, faceset.name, embedder_name, metric, value, std, n
                )
            )

    for v in variants:
        emb = prep(embs[v.id][index])
        detail: dict[str, Any] = {"model": v.model, "scale": v.scale, "degradation": v.degradation,
                                  "embedder": embedder_name, "protocol": protocol.name}  # fmt: skip
        head = [protocol.name, v.model, v.scale, v.degradation, embedder_name]
        if protocol.task == "verification":
            pairs = faceset.pairs
            assert pairs is not None
            dist = pair_distances(emb, pairs.a, pairs.b)
            res = verification_metrics(dist, pairs.same, pairs.fold)
            for m, (value, std) in res.metrics().items():
                row(v, m, value, std, res.n_pairs)
            detail |= {"fold_accuracies": list(res.fold_accuracies), "fold_thresholds": list(res.fold_thresholds)}
            for i in range(len(pairs)):
                a, b = faceset.paths[pairs.a[i]], faceset.paths[pairs.b[i]]
                out.pairs.append([*head, i, int(pairs.fold[i]), int(pairs.same[i]), repr(float(dist[i])), a, b])
        else:
            spec = protocol.identification
            res_i = identification_metrics(emb, faceset.labels, spec.ks, spec.max_rank, spec.fpir, spec.seed, device)
            for m, (value, std) in res_i.metrics().items():
                row(v, m, value, std, res_i.n_probes)
            detail |= {"cmc": list(res_i.cmc), "knn_accuracy": {str(k): a for k, a in res_i.knn_accuracy.items()}}
            names = faceset.identities
            preds = [res_i.knn_predictions.get(k) for k in (1, 5, 10)]
            for i in range(len(faceset)):
                out.probes.append(
                    [
                        *head,
                        i,
                        faceset.paths[i],
                        names[faceset.labels[i]],
                        int(res_i.ranks[i]),
                    ]
                    + [names[p[i]] if p is not None else "" for p in preds]
                )
        out.details.append(detail)
        if not v.is_hr:  # intrinsic metrics; HR against itself would be PSNR = inf, SSIM = 1
            iq = iqs[v.id][index]
            frl = fr_distance_np(emb, hr_emb)
            n = len(index)
            for m, values in (("psnr_y", iq[:, 0]), ("ssim_y", iq[:, 1]), ("fr_loss", frl)):
                row(v, m, *_mean_std(values), n)
            for i in range(n):
                out.images.append([*head, faceset.paths[i],
                                   repr(float(iq[i, 0])), repr(float(iq[i, 1])), repr(float(frl[i]))])  # fmt: skip
    return out


def _l2_normalise(e: np.ndarray) -> np.ndarray:
    e = e.astype(np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def fr_distance_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import torch

    return fr_distance(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(b.astype(np.float64))).numpy()


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
