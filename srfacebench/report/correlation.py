"""Does PSNR predict identity? Rank correlation across models between image-quality metrics
(PSNR-Y, SSIM-Y) and every identity metric of a protocol (FR loss, verification accuracy, AUC, EER,
TAR@FAR, rank-k...), per FR network and degradation.

Each metric is oriented so that larger is better before ranking (FR loss, EER are negated): τ = +1
means the models rank the same by PSNR as by identity, τ = −1 the reverse. Kendall's τ-b (ties
counted as scipy does). The 95% interval is a percentile bootstrap over faces: in each of the
leaderboard's bootstrap replicates (the same draws for every model: images for the per-image
metrics, pairs within folds or identities for the task metrics) τ is recomputed across models.
At least three models are needed; HR is not a model here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import HR

__all__ = ["CORRELATION_COLUMNS", "QUALITY", "kendall_tau_b", "rank_correlations"]

QUALITY = ("psnr_y", "ssim_y")
CORRELATION_COLUMNS = ["protocol", "embedder", "degradation", "quality", "identity", "n_models", "tau",
                       "ci_low", "ci_high", "models"]  # fmt: skip


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b along the last axis of ``x`` and ``y`` (any leading batch shape); NaN where
    either side is constant or holds a NaN.

    >>> float(kendall_tau_b(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])))  # 2 of 3 pairs agree
    0.3333333333333333
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = x.shape[-1]
    iu = np.triu_indices(n, k=1)
    dx = np.sign(x[..., :, None] - x[..., None, :])[..., iu[0], iu[1]]
    dy = np.sign(y[..., :, None] - y[..., None, :])[..., iu[0], iu[1]]
    s = (dx * dy).sum(-1)
    n0 = n * (n - 1) / 2
    denom = np.sqrt((n0 - (dx == 0).sum(-1)) * (n0 - (dy == 0).sum(-1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denom > 0, s / np.where(denom > 0, denom, 1), np.nan)
    bad = np.isnan(x).any(-1) | np.isnan(y).any(-1)
    return np.where(bad, np.nan, tau)


def rank_correlations(
    results: pd.DataFrame,
    protocol: str,
    metrics: dict[str, dict],
    reps: dict[tuple[str, str, str], dict[str, np.ndarray]],
) -> list[dict]:
    """Rows of :data:`CORRELATION_COLUMNS` for one protocol.

    Args:
        results: the tidy results (protocol, model, degradation, embedder, metric, value).
        metrics: the protocol's metric catalogue ``{metric: {"higher_is_better": bool}}``.
        reps: bootstrap replicates per (model, degradation, embedder) and metric, the same draws
            for every model (the leaderboard's).
    """
    rows: list[dict] = []
    res = results[(results.protocol == protocol) & (results.model != HR)]
    for (emb, deg), g in res.groupby(["embedder", "degradation"], sort=False):
        models = list(dict.fromkeys(g.model))
        if len(models) < 3:
            continue
        value = {(r.model, r.metric): float(r.value) for r in g.itertuples()}
        present = set(g.metric)
        for q in QUALITY:
            if q not in present:
                continue
            for ident in [m for m in metrics if m not in QUALITY and m in present]:
                sign = 1.0 if metrics[ident]["higher_is_better"] else -1.0
                x = np.array([value.get((m, q), np.nan) for m in models])
                y = sign * np.array([value.get((m, ident), np.nan) for m in models])
                tau = float(kendall_tau_b(x, y))
                lo = hi = float("nan")
                rx = [reps.get((m, deg, emb), {}).get(q) for m in models]
                ry = [reps.get((m, deg, emb), {}).get(ident) for m in models]
                if all(r is not None for r in rx + ry):
                    taus = kendall_tau_b(np.stack(rx, axis=-1), sign * np.stack(ry, axis=-1))
                    taus = taus[np.isfinite(taus)]
                    if taus.size:
                        lo, hi = (float(v) for v in np.quantile(taus, [0.025, 0.975]))
                rows.append({"protocol": protocol, "embedder": emb, "degradation": deg, "quality": q,
                             "identity": ident, "n_models": len(models), "tau": tau, "ci_low": lo, "ci_high": hi,
                             "models": ", ".join(models)})  # fmt: skip
    return rows
