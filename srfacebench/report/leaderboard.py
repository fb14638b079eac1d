"""The leaderboard: one row per (FR network, degradation, model), every metric with its CI and
the number of items it rests on, the gap recovered, and the paired comparisons (Holm-corrected
per model against bicubic), computed from a :class:`RunSet`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from ..results import BICUBIC, HR
from ..tasks import intrinsic_metrics
from .correlation import CORRELATION_COLUMNS, rank_correlations
from .runs import VARIANT, RunSet

__all__ = ["Leaderboard", "build_leaderboard"]


@dataclass
class Leaderboard:
    table: pd.DataFrame  # one row per (embedder, degradation, model)
    metrics: pd.DataFrame  # tidy: protocol, model, scale, degradation, embedder, metric, value, std, ci_low, ci_high, n
    comparisons: (
        pd.DataFrame
    )  # protocol, embedder, degradation, scale, metric, model_a, model_b, diff, p_value, p_holm, test
    sort_by: str
    n_boot: int
    seed: int
    # across models: Kendall τ between PSNR/SSIM and each identity metric (srfacebench.report.correlation)
    correlations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CORRELATION_COLUMNS))


Key = tuple[str, str, str]  # (model, degradation, embedder)


def _variant_frames(df: pd.DataFrame, runs: RunSet, protocol: str) -> dict[Key, pd.DataFrame]:
    out: dict[Key, pd.DataFrame] = {}
    if df.empty:
        return out
    sub = df[df.protocol == protocol]
    for (model, deg, emb), g in sub.groupby(VARIANT, sort=False):
        src = runs.source(protocol, model, deg, emb)
        out[(model, deg, emb)] = g[g.run == src]
    return out


def _replicates(runs: RunSet, protocol: str, n_boot: int, seed: int) -> dict[Key, dict[str, np.ndarray]]:
    """Bootstrap replicates per variant and metric, by the protocol's tasks (the same draws for
    every variant)."""
    reps: dict[Key, dict[str, np.ndarray]] = {}
    for task in runs.tasks(protocol):
        opts = runs.options(protocol, task)
        for key, g in _variant_frames(runs.item_frame(task.items_file), runs, protocol).items():
            reps.setdefault(key, {}).update(task.replicates(g, opts, n_boot, seed, protocol + task.bootstrap_tag))
    return reps


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    >>> [round(p, 12) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    >>> holm([1e-20, 0.5])[0]  # tiny p-values stay tiny (no rounding to 0)
    2e-20
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adj = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adj[i] = running
    return adj


def _comparisons(runs: RunSet, protocol: str, reps: dict) -> list[dict]:
    """Each model against bicubic, and every two models, under each (FR network, degradation),
    by each of the protocol's tasks' paired tests. A metric that does not depend on the FR network
    (PSNR, SSIM) is tested once per degradation, not once per network."""
    rows: list[dict] = []
    res = runs.results[runs.results.protocol == protocol]
    frames = {t.name: _variant_frames(runs.item_frame(t.items_file), runs, protocol) for t in runs.tasks(protocol)}
    values = {(r.model, r.degradation, r.embedder, r.metric): float(r.value) for r in res.itertuples()}
    done: set[tuple[str, str, str, str]] = set()
    for (emb, deg), g in res[res.model != HR].groupby(["embedder", "degradation"], sort=False):
        scale = int(g.scale.iloc[0])
        models = list(dict.fromkeys(g.model))
        others = [m for m in models if m != BICUBIC]
        pairs = [(m, BICUBIC) for m in others if BICUBIC in models]
        pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
        for a, b in pairs:
            ka, kb = (a, deg, emb), (b, deg, emb)
            for task in runs.tasks(protocol):
                fa, fb = frames[task.name].get(ka), frames[task.name].get(kb)
                if fa is None or fb is None:
                    continue
                for metric, p, test in task.paired_tests(fa, fb, reps.get(ka, {}), reps.get(kb, {})):
                    if metric in task.fr_independent:
                        if (deg, a, b, metric) in done:
                            continue
                        done.add((deg, a, b, metric))
                    diff = values.get((a, deg, emb, metric), np.nan) - values.get((b, deg, emb, metric), np.nan)
                    rows.append({"protocol": protocol, "embedder": emb, "degradation": deg, "scale": scale,
                                 "metric": metric, "model_a": a, "model_b": b, "diff": diff, "p_value": p,
                                 "test": test})  # fmt: skip
    return rows


COMPARISON_COLUMNS = ["protocol", "embedder", "degradation", "scale", "metric", "model_a", "model_b", "diff",
                      "p_value", "p_holm", "test"]  # fmt: skip


def build_leaderboard(runs: RunSet, sort_by: str | None = None, n_boot: int = 1000, seed: int = 0) -> Leaderboard:
    """Leaderboard, intervals and comparisons of a RunSet (see :mod:`srfacebench.metrics.stats`).

    p-values are Holm-corrected per model against bicubic (``p_holm``): over every metric,
    protocol, degradation and FR network that model is compared with bicubic on.
    """
    r = runs.results.copy()
    protocols = list(dict.fromkeys(r.protocol))
    if sort_by is not None:
        p_, _, m_ = sort_by.partition("/")
        if p_ not in runs.protocols or m_ not in runs.protocols[p_]["metrics"]:
            known = [f"{p}/{m}" for p in protocols for m in runs.protocols[p]["metrics"]]
            raise DataError(f"cannot sort by {sort_by!r}: known columns {known}")
    ci_rows, comp_rows, corr_rows = [], [], []
    for p in protocols:
        reps = _replicates(runs, p, n_boot, seed)
        sub = r[r.protocol == p]
        for row in sub.itertuples():
            lo, hi = np.nan, np.nan
            rep = reps.get((row.model, row.degradation, row.embedder), {}).get(row.metric)
            if rep is not None:
                finite = rep[np.isfinite(rep)]
                if finite.size:
                    lo, hi = np.quantile(finite, [0.025, 0.975])
            ci_rows.append((row.Index, lo, hi))
        comp_rows += _comparisons(runs, p, reps)
        corr_rows += rank_correlations(r, p, runs.protocols[p]["metrics"], reps)
    ci = pd.DataFrame(ci_rows, columns=["idx", "ci_low", "ci_high"]).set_index("idx")
    cols = ["protocol", "model", "scale", "degradation", "embedder", "metric", "value", "std", "ci_low", "ci_high", "n"]
    metrics = r.join(ci)[cols]
    if sort_by is None:
        first = protocols[0]
        sort_by = f"{first}/{runs.protocols[first]['main_score']}"
    table = _wide(metrics, runs, sort_by)
    comps = pd.DataFrame(comp_rows, columns=[c for c in COMPARISON_COLUMNS if c != "p_holm"])
    comps["p_holm"] = np.nan
    vs_bic = comps.model_b == BICUBIC
    for _model, idx in comps[vs_bic].groupby("model_a").groups.items():
        comps.loc[idx, "p_holm"] = holm(comps.loc[idx, "p_value"].tolist())
    corr = pd.DataFrame(corr_rows, columns=CORRELATION_COLUMNS)
    return Leaderboard(table, metrics, comps[COMPARISON_COLUMNS], sort_by, n_boot, seed, corr)


def _arrow(runs: RunSet, protocol: str, metric: str) -> str:
    return "↑" if runs.higher_is_better(protocol, metric) else "↓"


def _wide(metrics: pd.DataFrame, runs: RunSet, sort_by: str) -> pd.DataFrame:
    rows: dict[Key, dict] = {}
    for m in metrics.itertuples():
        key = (m.model, m.degradation, m.embedder)
        row = rows.setdefault(
            key, {"embedder": m.embedder, "degradation": m.degradation, "model": m.model, "scale": int(m.scale)}
        )
        col = f"{m.protocol}/{m.metric}"
        row[col] = m.value
        row[f"{col} ci_low"] = m.ci_low
        row[f"{col} ci_high"] = m.ci_high
        row[f"{col} n"] = m.n
    table = pd.DataFrame(list(rows.values()))
    table.insert(4, "baseline", ["HR (upper bound)" if m == HR else "bicubic (LR)" if m == BICUBIC else ""
                                 for m in table.model])  # fmt: skip
    # Recovered share of the HR–bicubic gap, per task metric, under the same FR network and degradation.
    intrinsic = intrinsic_metrics()
    task_cols = [c for c in table.columns if "/" in c and " " not in c and c.split("/")[1] not in intrinsic]
    for col in task_cols:
        gap = []
        for rec in table.itertuples(index=False):
            model, emb, deg = rec.model, rec.embedder, rec.degradation
            v = table.loc[(table.model == model) & (table.embedder == emb) & (table.degradation == deg), col].iloc[0]
            hr = table.loc[(table.model == HR) & (table.embedder == emb), col]
            bic = table.loc[(table.model == BICUBIC) & (table.embedder == emb) & (table.degradation == deg), col]
            if model in (HR, BICUBIC) or hr.empty or bic.empty or hr.iloc[0] == bic.iloc[0]:
                gap.append(np.nan)
            else:
                gap.append((v - bic.iloc[0]) / (hr.iloc[0] - bic.iloc[0]))
        table[f"{col} gap recovered"] = gap
    if sort_by not in table.columns:
        raise DataError(
            f"cannot sort by {sort_by!r}: known columns {[c for c in table.columns if '/' in c and ' ' not in c]}"
        )
    protocol, metric = sort_by.split("/", 1)
    ascending = not runs.higher_is_better(protocol, metric)
    table = table.sort_values(
        ["embedder", "scale", sort_by], ascending=[True, True, ascending], na_position="last", kind="stable"
    ).reset_index(drop=True)
    rename = {
        c: c.replace(c.split(" ")[0], c.split(" ")[0] + " " + _arrow(runs, *c.split(" ")[0].split("/", 1)))
        for c in table.columns
        if "/" in c
    }
    return table.rename(columns=rename)
