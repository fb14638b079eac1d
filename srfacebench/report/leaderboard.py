"""The leaderboard: one row per (model, scale), every metric with its CI, the gap recovered,
and the paired comparisons, computed from a :class:`RunSet`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..registry import HR
from .runs import RunSet
from .stats import (
    bootstrap_clusters,
    bootstrap_verification,
    mcnemar_p,
    paired_bootstrap_p,
    wilcoxon_p,
)

__all__ = ["Leaderboard", "build_leaderboard"]

BICUBIC = "bicubic"
INTRINSIC = ("psnr_y", "ssim_y", "fr_loss")


@dataclass
class Leaderboard:
    table: pd.DataFrame  # one row per (model, scale)
    metrics: pd.DataFrame  # tidy: protocol, model, scale, metric, value, std, ci_low, ci_high, n
    comparisons: pd.DataFrame  # protocol, scale, metric, model_a, model_b, diff, p_value, test
    sort_by: str
    n_boot: int
    seed: int


def _variant_frames(df: pd.DataFrame, runs: RunSet, protocol: str) -> dict[tuple[str, int], pd.DataFrame]:
    out = {}
    if df.empty:
        return out
    sub = df[df.protocol == protocol]
    for (model, scale), g in sub.groupby(["model", "scale"], sort=False):
        src = runs.source(protocol, model, int(scale))
        out[(model, int(scale))] = g[g.run == src]
    return out


def _replicates(runs: RunSet, protocol: str, n_boot: int, seed: int) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """Bootstrap replicates per variant and metric (the same draws for every variant)."""
    reps: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for key, g in _variant_frames(runs.pairs, runs, protocol).items():
        g = g.sort_values("pair")
        res = bootstrap_verification(
            g.distance.to_numpy(float), g.label.to_numpy(int) == 1, g.fold.to_numpy(int), n_boot, seed, protocol
        )
        reps.setdefault(key, {}).update(res.replicates)
    for key, g in _variant_frames(runs.probes, runs, protocol).items():
        g = g.sort_values("probe")
        ranks = g["rank"].to_numpy(int)
        values = {f"rank{k}": (ranks >= 1) & (ranks <= k) for k in (1, 5, 10)}
        values |= {f"knn{k}_accuracy": (g[f"knn{k}"] == g.identity).to_numpy() for k in (1, 5, 10)}
        res = bootstrap_clusters(values, g.identity.to_numpy(), n_boot, seed, protocol)
        reps.setdefault(key, {}).update(res.replicates)
    for key, g in _variant_frames(runs.images, runs, protocol).items():
        values = {m: g[m].to_numpy(float) for m in INTRINSIC}
        res = bootstrap_clusters(values, np.arange(len(g)), n_boot, seed, protocol + "/images")
        reps.setdefault(key, {}).update(res.replicates)
    return reps


def _comparisons(runs: RunSet, protocol: str, reps: dict) -> list[dict]:
    """Each model against bicubic, and every two models, at each scale."""
    rows: list[dict] = []
    res = runs.results[runs.results.protocol == protocol]
    probes = _variant_frames(runs.probes, runs, protocol)
    images = _variant_frames(runs.images, runs, protocol)

    def value(model: str, scale: int, metric: str) -> float:
        v = res[(res.model == model) & (res.scale == scale) & (res.metric == metric)].value
        return float(v.iloc[0]) if len(v) else float("nan")

    for scale in sorted(int(s) for s in res.scale.unique() if s != 1):
        models = [m for m in dict.fromkeys(res[res.scale == scale].model) if m != HR]
        others = [m for m in models if m != BICUBIC]
        pairs = [(m, BICUBIC) for m in others] + [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
        for a, b in pairs:
            ka, kb = (a, scale), (b, scale)

            def add(metric: str, p: float, test: str, a: str = a, b: str = b, scale: int = scale) -> None:
                diff = value(a, scale, metric) - value(b, scale, metric)
                rows.append({"protocol": protocol, "scale": scale, "metric": metric, "model_a": a, "model_b": b,
                             "diff": diff, "p_value": p, "test": test})  # fmt: skip

            for metric in ("accuracy", "auc"):
                if metric in reps.get(ka, {}) and metric in reps.get(kb, {}):
                    add(metric, paired_bootstrap_p(reps[ka][metric], reps[kb][metric]), "paired bootstrap")
            if ka in probes and kb in probes:
                ra = probes[ka].sort_values("probe")["rank"].to_numpy(int) == 1
                rb = probes[kb].sort_values("probe")["rank"].to_numpy(int) == 1
                add("rank1", mcnemar_p(ra, rb), "McNemar exact")
            if ka in images and kb in images:
                for metric in INTRINSIC:
                    xa, xb = images[ka][metric].to_numpy(float), images[kb][metric].to_numpy(float)
                    add(metric, wilcoxon_p(xa, xb), "Wilcoxon signed-rank")
    return rows


def build_leaderboard(runs: RunSet, sort_by: str | None = None, n_boot: int = 1000, seed: int = 0) -> Leaderboard:
    """Leaderboard, intervals and comparisons of a RunSet (see :mod:`srfacebench.report.stats`)."""
    r = runs.results.copy()
    protocols = list(dict.fromkeys(r.protocol))
    ci_rows, comp_rows = [], []
    for p in protocols:
        reps = _replicates(runs, p, n_boot, seed)
        sub = r[r.protocol == p]
        for row in sub.itertuples():
            lo, hi = np.nan, np.nan
            rep = reps.get((row.model, int(row.scale)), {}).get(row.metric)
            if rep is not None:
                finite = rep[np.isfinite(rep)]
                if finite.size:
                    lo, hi = np.quantile(finite, [0.025, 0.975])
            ci_rows.append((row.Index, lo, hi))
        comp_rows += _comparisons(runs, p, reps)
    ci = pd.DataFrame(ci_rows, columns=["idx", "ci_low", "ci_high"]).set_index("idx")
    metrics = r.join(ci)[["protocol", "model", "scale", "embedder", "metric", "value", "std", "ci_low", "ci_high", "n"]]
    if sort_by is None:
        first = protocols[0]
        sort_by = f"{first}/{runs.protocols[first]['main_score']}"
    table = _wide(metrics, runs, sort_by)
    comps = pd.DataFrame(
        comp_rows, columns=["protocol", "scale", "metric", "model_a", "model_b", "diff", "p_value", "test"]
    )
    return Leaderboard(table, metrics, comps, sort_by, n_boot, seed)


def _arrow(runs: RunSet, protocol: str, metric: str) -> str:
    return "↑" if runs.higher_is_better(protocol, metric) else "↓"


def _wide(metrics: pd.DataFrame, runs: RunSet, sort_by: str) -> pd.DataFrame:
    rows = {}
    for m in metrics.itertuples():
        key = (m.model, int(m.scale))
        row = rows.setdefault(key, {"model": m.model, "scale": int(m.scale)})
        col = f"{m.protocol}/{m.metric}"
        row[col] = m.value
        row[f"{col} ci_low"] = m.ci_low
        row[f"{col} ci_high"] = m.ci_high
    table = pd.DataFrame(list(rows.values()))
    table.insert(2, "baseline", ["HR (upper bound)" if m == HR else "bicubic (LR)" if m == BICUBIC else ""
                                 for m in table.model])  # fmt: skip
    # Recovered share of the HR–bicubic gap, per task metric, at each model's scale.
    task_cols = [c for c in table.columns if "/" in c and " " not in c and c.split("/")[1] not in INTRINSIC]
    for col in task_cols:
        hr = table.loc[table.model == HR, col]
        bic = table[table.model == BICUBIC].set_index("scale")[col]
        gap = []
        for model, scale, v in zip(table.model, table.scale, table[col], strict=True):
            if model in (HR, BICUBIC) or hr.empty or scale not in bic.index or hr.iloc[0] == bic[scale]:
                gap.append(np.nan)
            else:
                gap.append((v - bic[scale]) / (hr.iloc[0] - bic[scale]))
        table[f"{col} gap recovered"] = gap
    if sort_by not in table.columns:
        raise ValueError(f"cannot sort by {sort_by!r}: known columns {[c for c in table.columns if '/' in c]}")
    protocol, metric = sort_by.split("/", 1)
    ascending = not runs.higher_is_better(protocol, metric)
    table = table.sort_values(sort_by, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)
    rename = {
        c: c.replace(c.split(" ")[0], c.split(" ")[0] + " " + _arrow(runs, *c.split(" ")[0].split("/", 1)))
        for c in table.columns
        if "/" in c
    }
    return table.rename(columns=rename)
