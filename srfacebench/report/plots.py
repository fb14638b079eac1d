"""Report figures (matplotlib, Agg), returned as base64 PNG data so the HTML is self-contained."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..results import HR
from ..tasks import Curves

__all__ = ["bar_plot", "curves_plot", "severity_plot"]


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(model: str, degradation: str) -> str:
    return "HR" if model == HR else f"{model} {degradation}"


def curves_plot(c: Curves) -> str:
    """A task's line figure (ROC, CMC, ...): HR dashed, log x when the task asks for it."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for label, x, y in c.series:
        ax.plot(x, y, label=label, lw=1.6, ls="--" if label == "HR" else "-")
    if c.xlog:
        ax.set_xscale("log")
    ax.set_xlabel(c.xlabel)
    ax.set_ylabel(c.ylabel)
    ax.set_title(c.title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=c.legend_loc)
    return _png(fig)


def bar_plot(metrics: pd.DataFrame, protocol: str, metric: str, embedder: str) -> str | None:
    """Bars of one metric for every (model, degradation) with 95% bootstrap CI whiskers."""
    sub = metrics[(metrics.protocol == protocol) & (metrics.metric == metric) & (metrics.embedder == embedder)]
    if sub.empty:
        return None
    labels = [_label(m, d) for m, d in zip(sub.model, sub.degradation, strict=True)]
    values = sub.value.to_numpy(float)
    lo = values - sub.ci_low.to_numpy(float)
    hi = sub.ci_high.to_numpy(float) - values
    err = np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)])
    fig, ax = plt.subplots(figsize=(max(3.5, 0.7 * len(labels) + 1.5), 3.2))
    ax.bar(range(len(values)), values, yerr=err, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    finite = values[np.isfinite(values)]
    if finite.size and metric not in ("fr_loss",):
        span = finite.max() - finite.min()
        ax.set_ylim(max(0.0, finite.min() - max(span, 0.01) * 0.8), None)
    ax.set_title(f"{protocol} ({embedder}): {metric} (95% bootstrap CI)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def severity_plot(metrics: pd.DataFrame, protocol: str, metric: str, embedder: str, family: str,
                  points: list[tuple[str, float, str]]) -> str | None:  # fmt: skip
    """A metric against one degradation parameter (e.g. accuracy vs blur σ), one line per model,
    with 95% bootstrap intervals as error bars."""
    sub = metrics[(metrics.protocol == protocol) & (metrics.metric == metric) & (metrics.embedder == embedder)]
    labels = {lab: x for _, x, lab in points}
    sub = sub[sub.degradation.isin(labels)]
    if sub.empty:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for model, g in sub.groupby("model", sort=False):
        g = g.assign(x=g.degradation.map(labels)).sort_values("x")
        v = g.value.to_numpy(float)
        err = np.vstack([np.nan_to_num(v - g.ci_low.to_numpy(float)), np.nan_to_num(g.ci_high.to_numpy(float) - v)])
        ax.errorbar(g.x.to_numpy(float), v, yerr=err, marker="o", capsize=3, lw=1.4, label=model)
    ax.set_xlabel(points[0][0])
    ax.set_ylabel(metric)
    ax.set_title(f"{protocol} ({embedder}): {metric} vs {family}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)
