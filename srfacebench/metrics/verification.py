"""Face verification metrics over pair distances (pure numpy; lower distance = more similar).

Conventions (recorded in results as ``conventions``):

* **decision**: a pair is predicted "same" when ``distance <= threshold``.
* **k-fold accuracy**: for each fold, the threshold is chosen on the other folds: the candidates
  are the midpoints between consecutive distinct training distances (plus one below the smallest
  and one above the largest); the one with the best training accuracy wins, ties going to the
  smallest threshold. Accuracy is measured on the held-out fold. Reported: mean and population
  standard deviation (ddof = 0) over the folds.
* **ROC**: the score is ``-distance``; the curve has one point per distinct distance, as
  ``sklearn.metrics.roc_curve(drop_intermediate=False)``. AUC by the trapezoidal rule (equal to
  the Mann-Whitney statistic, ties counting one half).
* **EER**: the point where FAR (false accept rate) = FRR (1 − TAR), linearly interpolated between
  the two consecutive ROC points where FAR − FRR changes sign.
* **TAR@FAR**: the largest TAR among ROC points with FAR <= the target (no interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "VerificationResult",
    "best_threshold",
    "eer",
    "kfold_accuracy",
    "pair_distances",
    "roc_auc",
    "roc_curve",
    "tar_at_far",
    "verification_metrics",
]


def _check(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(distances, dtype=np.float64).ravel()
    s = np.asarray(same).ravel()
    if d.shape != s.shape:
        raise ValueError(f"distances and labels differ in length: {d.shape} vs {s.shape}")
    if s.dtype != bool:
        if not np.isin(s, (0, 1)).all():
            raise ValueError("labels must be boolean (True = same identity) or 0/1")
        s = s.astype(bool)
    if not np.isfinite(d).all():
        raise ValueError("distances contain NaN or infinity")
    return d, s


def pair_distances(embeddings: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between ``embeddings[a[k]]`` and ``embeddings[b[k]]`` (float64).

    >>> import numpy as np
    >>> pair_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([0]), np.array([1]))
    array([5.])
    """
    e = np.asarray(embeddings, dtype=np.float64)
    return np.linalg.norm(e[np.asarray(a)] - e[np.asarray(b)], axis=1)


def best_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold of best accuracy on these pairs and that accuracy (see module conventions)."""
    d, s = _check(distances, same)
    if d.size == 0:
        raise ValueError("no pairs to choose a threshold on")
    u = np.unique(d)
    candidates = np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2, [u[-1] + 1.0]])
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    # Number of pairs with distance <= c, and how many of them are "same".
    n_le = np.searchsorted(ds, candidates, side="right")
    same_le = np.concatenate([[0], np.cumsum(ss)])[n_le]
    total_diff = (~s).sum()
    correct = same_le + (total_diff - (n_le - same_le))
    k = int(np.argmax(correct))  # first maximum = smallest threshold
    return float(candidates[k]), float(correct[k] / d.size)


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold held-out accuracy and the threshold each fold used (chosen on the others)."""
    d, s = _check(distances, same)
    f = np.asarray(folds).ravel()
    ids = np.unique(f)
    if ids.size < 2:
        raise ValueError("k-fold accuracy needs at least 2 folds")
    accs, thresholds = [], []
    for k in ids:
        test = f == k
        t, _ = best_threshold(d[~test], s[~test])
        accs.append(np.mean((d[test] <= t) == s[test]))
        thresholds.append(t)
    return np.asarray(accs), np.asarray(thresholds)


def roc_curve(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FAR, TAR, thresholds): one point per distinct distance, starting at (0, 0)."""
    d, s = _check(distances, same)
    n_pos, n_neg = s.sum(), (~s).sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both matched and mismatched pairs; only one class is present")
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    last = np.r_[np.nonzero(np.diff(ds))[0], ds.size - 1]  # last index of each distinct distance
    tps = np.cumsum(ss)[last]
    fps = (last + 1) - tps
    tar = np.r_[0.0, tps / n_pos]
    far = np.r_[0.0, fps / n_neg]
    thresholds = np.r_[-np.inf, ds[last]]
    return far, tar, thresholds


def roc_auc(distances: np.ndarray, same: np.ndarray) -> float:
    far, tar, _ = roc_curve(distances, same)
    return float(np.trapezoid(tar, far))


def eer(distances: np.ndarray, same: np.ndarray) -> float:
    """Equal error rate, interpolated between the ROC points where FAR − FRR changes sign."""
    far, tar, _ = roc_curve(distances, same)
    frr = 1.0 - tar
    diff = far - frr  # increasing along the curve: from -1 to +1
    k = int(np.argmax(diff >= 0))
    if diff[k] == 0 or k == 0:
        return float(far[k])
    # Interpolate on the segment from point k-1 (diff < 0) to point k (diff > 0).
    w = -diff[k - 1] / (diff[k] - diff[k - 1])
    return float(far[k - 1] + w * (far[k] - far[k - 1]))


def tar_at_far(distances: np.ndarray, same: np.ndarray, target_far: float = 1e-3) -> float:
    far, tar, _ = roc_curve(distances, same)
    return float(tar[far <= target_far].max())


@dataclass(frozen=True)
class VerificationResult:
    """All verification numbers of one embedding set."""

    accuracy: float
    accuracy_std: float
    fold_accuracies: tuple[float, ...]
    fold_thresholds: tuple[float, ...]
    auc: float
    eer: float
    tar_at_far_1e3: float
    n_pairs: int

    def metrics(self) -> dict[str, tuple[float, float | None]]:
        """metric name -> (value, std or None)."""
        return {
            "accuracy": (self.accuracy, self.accuracy_std),
            "auc": (self.auc, None),
            "eer": (self.eer, None),
            "tar@far=1e-3": (self.tar_at_far_1e3, None),
        }


def verification_metrics(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> VerificationResult:
    """Every verification metric at once (see the module's conventions)."""
    accs, thresholds = kfold_accuracy(distances, same, folds)
    return VerificationResult(
        accuracy=float(accs.mean()),
        accuracy_std=float(accs.std()),
        fold_accuracies=tuple(float(a) for a in accs),
        fold_thresholds=tuple(float(t) for t in thresholds),
        auc=roc_auc(distances, same),
        eer=eer(distances, same),
        tar_at_far_1e3=tar_at_far(distances, same, 1e-3),
        n_pairs=int(np.asarray(distances).size),
    )
