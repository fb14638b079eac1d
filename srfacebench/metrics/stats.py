"""Uncertainty: bootstrap confidence intervals and paired tests from a run's per-item data.

What is resampled is what each protocol treats as independent:

* verification: pairs, with replacement **within each official fold** (the 10-fold structure and
  fold sizes are kept); every replicate recomputes 10-fold accuracy, AUC, EER and TAR@FAR;
* identification: **identities** (a cluster bootstrap over the per-probe outcomes: rank-k hits and
  kNN votes; the neighbour lists themselves are not recomputed); FNIR gets no interval;
* intrinsic metrics: images.

Every variant of a protocol is resampled with the same seeded draws, so the difference of two
variants' replicates is a paired bootstrap. Paired tests: McNemar (exact binomial) on per-probe
rank-1 correctness, a paired bootstrap on verification accuracy and AUC (two-sided p =
2·min(P(Δ* ≤ 0), P(Δ* ≥ 0)), capped at 1), Wilcoxon signed-rank on per-image PSNR/SSIM/FR loss.
Intervals are percentile intervals (2.5 %, 97.5 %).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .verification import eer, kfold_accuracy, roc_auc, tar_at_far

__all__ = [
    "BootstrapResult",
    "bootstrap_clusters",
    "bootstrap_verification",
    "mcnemar_p",
    "paired_bootstrap_p",
    "percentile_ci",
    "wilcoxon_p",
]

ALPHA = 0.05


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates per metric (same draws for every variant of one protocol)."""

    replicates: dict[str, np.ndarray]
    n_boot: int
    seed: int

    def ci(self, metric: str) -> tuple[float, float]:
        return percentile_ci(self.replicates[metric])


def _rng(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(tag.encode())])


def percentile_ci(replicates: np.ndarray, alpha: float = ALPHA) -> tuple[float, float]:
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_verification(
    distances: np.ndarray, same: np.ndarray, folds: np.ndarray, n_boot: int, seed: int, tag: str
) -> BootstrapResult:
    """Replicates of accuracy, AUC, EER and TAR@FAR=1e-3, resampling pairs within folds."""
    d, s, f = np.asarray(distances, float), np.asarray(same, bool), np.asarray(folds)
    rng = _rng(seed, tag)
    fold_idx = [np.nonzero(f == k)[0] for k in np.unique(f)]
    out = {m: np.empty(n_boot) for m in ("accuracy", "auc", "eer", "tar@far=1e-3")}
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(ix, size=ix.size, replace=True) for ix in fold_idx])
        db, sb, fb = d[idx], s[idx], f[idx]
        if sb.all() or not sb.any():
            for m in out:
                out[m][b] = np.nan
            continue
        out["accuracy"][b] = kfold_accuracy(db, sb, fb)[0].mean()
        out["auc"][b] = roc_auc(db, sb)
        out["eer"][b] = eer(db, sb)
        out["tar@far=1e-3"][b] = tar_at_far(db, sb, 1e-3)
    return BootstrapResult(out, n_boot, seed)


def bootstrap_clusters(
    values: dict[str, np.ndarray], clusters: np.ndarray, n_boot: int, seed: int, tag: str
) -> BootstrapResult:
    """Replicates of the mean of each per-item array, resampling whole clusters with replacement.

    With one item per cluster this is the ordinary bootstrap of a mean.
    """
    _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    n_clusters = inverse.max() + 1
    rng = _rng(seed, tag)
    weights = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)  # B × clusters
    counts = np.bincount(inverse, minlength=n_clusters).astype(np.float64)
    denom = weights @ counts
    out = {}
    for name, v in values.items():
        sums = np.bincount(inverse, weights=np.asarray(v, dtype=np.float64), minlength=n_clusters)
        out[name] = (weights @ sums) / denom
    return BootstrapResult(out, n_boot, seed)


def paired_bootstrap_p(rep_a: np.ndarray, rep_b: np.ndarray) -> float:
    """Two-sided p of "no difference" from paired replicates (same draws for a and b).

    With B replicates of which k fall on the far side of zero, p = 2(k + 1)/(B + 1) (Davison &
    Hinkley's convention): never 0, since B replicates cannot resolve a p below about 2/B.
    """
    diff = np.asarray(rep_a) - np.asarray(rep_b)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return float("nan")
    k = min(int(np.sum(diff <= 0)), int(np.sum(diff >= 0)))
    return float(min(1.0, 2 * (k + 1) / (diff.size + 1)))


def mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Exact McNemar test (binomial on the discordant probes), two-sided."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if n01 + n10 == 0:
        return 1.0
    return float(stats.binomtest(min(n01, n10), n01 + n10, 0.5).pvalue)


def wilcoxon_p(x: np.ndarray, y: np.ndarray) -> float:
    """Wilcoxon signed-rank test of paired per-image values, two-sided (1.0 if all equal)."""
    diff = np.asarray(x, float) - np.asarray(y, float)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0 or np.all(diff == 0):
        return 1.0
    return float(stats.wilcoxon(diff).pvalue)
