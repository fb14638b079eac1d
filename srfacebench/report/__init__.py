"""Reports: merged leaderboard (CSV/Markdown/JSON) and a self-contained HTML page.

Example:
    >>> from srfacebench.report import build_report
    >>> build_report(["runs/a", "runs/b"], "report.html", csv_path="leaderboard.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from ..degradations import severity_families
from ..errors import DataError
from ..io import atomic_write_text
from ..results import BICUBIC as BICUBIC_NAME
from ..results import HR, v1_degradation
from ..tasks import ItemView
from .leaderboard import Leaderboard, build_leaderboard
from .plots import bar_plot, curves_plot, severity_plot
from .runs import RunSet, load_runs

__all__ = ["Leaderboard", "RunSet", "build_leaderboard", "build_report", "load_runs"]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.4f}"
    return str(v)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inside(folder: Path, name: str) -> Path:
    """``folder/name``, refusing any name that resolves outside ``folder`` (a hostile manifest)."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()) or path.suffix.lower() != ".png":
        raise DataError(f"{folder / 'samples.json'}: sample {name!r} is not a PNG inside {folder}")
    return path


def _face_grids(runs: RunSet) -> list[dict[str, Any]]:
    """Sample faces from the runs' ``samples/`` folders (manifest ``samples.json``), per degradation."""
    grids: dict[str, dict[str, Any]] = {}
    for folder in runs.samples.values():
        manifest = folder / "samples.json"
        if not manifest.is_file():
            continue
        m = json.loads(manifest.read_text(encoding="utf-8"))
        for entry in m["entries"]:
            deg = str(entry.get("degradation") or v1_degradation(int(entry["scale"])))
            g = grids.setdefault(deg, {"degradation": deg, "columns": ["HR", "LR"], "cells": {}})
            col = "HR" if entry["model"] == HR else ("LR" if entry["kind"] == "lr" else entry["model"])
            if col not in g["columns"]:
                g["columns"].append(col)
            g["cells"][(entry["image"], col)] = _data_uri(_inside(folder, str(entry["file"])))
    out = []
    for deg, g in grids.items():
        names = list(dict.fromkeys(name for name, _ in g["cells"]))
        rows = [{"name": n, "images": [g["cells"].get((n, c)) for c in g["columns"]]} for n in names]
        out.append({"degradation": deg, "columns": g["columns"], "rows": rows})
    return out


def _item_view(runs: RunSet, protocol: str, embedder: str, task: Any) -> ItemView:
    """What a task's curves are drawn from: per variant, the per-item rows and the detail of the
    run that stands for it."""
    items = {}
    frame = runs.item_frame(task.items_file)
    if not frame.empty:
        sub = frame[(frame.protocol == protocol) & (frame.embedder == embedder)]
        for (model, deg), g in sub.groupby(["model", "degradation"], sort=False):
            items[(model, deg)] = g[g.run == runs.source(protocol, model, deg, embedder)]
    details = {
        (d["model"], d["degradation"]): d
        for d in runs.details
        if d.get("protocol") == protocol and d.get("embedder") == embedder
        and runs.source(protocol, d["model"], d["degradation"], embedder) == d["run"]
    }  # fmt: skip
    return ItemView(protocol, embedder, runs.options(protocol, task), items, details)


def _recorded_axes(runs: RunSet) -> dict[str, list[dict[str, Any]]]:
    """The severity axes of each degradation as its run recorded them (none in older runs)."""
    axes: dict[str, list[dict[str, Any]]] = {}
    for prov in runs.provenance.values():
        axes.update(prov.get("degradation_axes") or {})
    return axes


def _figures(runs: RunSet, lb: Leaderboard) -> list[dict[str, Any]]:
    sections = []
    res = runs.results
    for p in dict.fromkeys(res.protocol):
        for emb in dict.fromkeys(res[res.protocol == p].embedder):
            sub = res[(res.protocol == p) & (res.embedder == emb)]
            degs = [d for d in dict.fromkeys(sub.degradation) if d != "none"]
            for task in runs.tasks(p):
                view = _item_view(runs, p, emb, task)
                curves = [c for d in degs for c in task.curves(view, d)]
                if curves:
                    kinds = ", ".join(dict.fromkeys(c.title.split(": ", 1)[-1].split(",")[0] for c in curves))
                    sections.append({"title": f"{p} ({emb}): {kinds} curves",
                                     "images": [curves_plot(c) for c in curves]})  # fmt: skip
            main = runs.protocols[p]["main_score"]
            curves = [
                severity_plot(lb.metrics, p, m, emb, fam, pts)
                for fam, pts in severity_families(degs, _recorded_axes(runs)).items()
                for m in dict.fromkeys([main, "psnr_y", "fr_loss"])
                if m in runs.protocols[p]["metrics"]
            ]
            if any(curves):
                sections.append({"title": f"{p} ({emb}): metrics against degradation severity",
                                 "images": [c for c in curves if c]})  # fmt: skip
            bars = [bar_plot(lb.metrics, p, m, emb) for m in runs.protocols[p]["metrics"]]
            if any(bars):
                sections.append({"title": f"{p} ({emb}): metrics with 95% bootstrap intervals",
                                 "images": [b for b in bars if b]})  # fmt: skip
    return sections


def _cross_fr(runs: RunSet, lb: Leaderboard) -> list[dict[str, Any]]:
    """Model (with the FR network it was trained against) × test FR network, per protocol's main
    score and degradation: the paper's cross-FR question, one table per protocol."""
    res = lb.metrics
    embedders = list(dict.fromkeys(res.embedder))
    if len(embedders) < 2:
        return []
    trained: dict[str, str] = {}
    for prov in runs.provenance.values():
        for vid, info in prov.get("model_infos", {}).items():
            if info.get("trained_against_fr"):
                trained[vid.split("|")[0]] = info["trained_against_fr"]
    out = []
    for p in dict.fromkeys(res.protocol):
        main = runs.protocols[p]["main_score"]
        sub = res[(res.protocol == p) & (res.metric == main)]
        rows = []
        for (model, deg), g in sub.groupby(["model", "degradation"], sort=False):
            by = {e: (float(v), lo, hi) for e, v, lo, hi in zip(g.embedder, g.value, g.ci_low, g.ci_high, strict=True)}
            cells = [
                {"text": _fmt(by[e][0]), "ci": f"[{_fmt(by[e][1])}, {_fmt(by[e][2])}]" if e in by else ""}
                if e in by else {"text": "", "ci": ""}
                for e in embedders
            ]  # fmt: skip
            rows.append({"model": model, "degradation": deg, "trained": trained.get(model, "—"), "cells": cells})
        out.append({"protocol": p, "metric": main, "embedders": embedders, "rows": rows})
    return out


_QUALITY = ("psnr_y", "ssim_y")


def _answers(runs: RunSet, lb: Leaderboard) -> list[str]:
    """The answer, one line per protocol × degradation × FR network: which model keeps identity
    best on the protocol's main score (with its interval), how much of the HR–bicubic gap it
    recovers, and whether PSNR-Y ranks the models as the main score does (Kendall τ, interval)."""
    m = lb.metrics
    lines = []
    for p in dict.fromkeys(m.protocol):
        main = runs.protocols[p]["main_score"]
        hib = runs.higher_is_better(p, main)
        sub = m[(m.protocol == p) & (m.metric == main)]
        for (deg, emb), g in sub[sub.model != HR].groupby(["degradation", "embedder"], sort=False):
            models = g[g.model != BICUBIC_NAME]
            if models.empty or g.value.isna().all():
                continue
            best = models.loc[models.value.idxmax() if hib else models.value.idxmin()]
            hr = sub[(sub.model == HR) & (sub.embedder == emb)].value
            bic = g[g.model == BICUBIC_NAME].value
            text = f"{p}, {deg}, {emb}: best model on identity: {best.model} — {main} {_fmt(float(best.value))}"
            if not math.isnan(best.ci_low):
                text += f" [{_fmt(float(best.ci_low))}, {_fmt(float(best.ci_high))}]"
            if len(hr) and len(bic) and float(hr.iloc[0]) != float(bic.iloc[0]):
                h, b = float(hr.iloc[0]), float(bic.iloc[0])
                gap = (float(best.value) - b) / (h - b)
                text += f", {100 * gap:.0f}% of the HR–bicubic gap (bicubic {_fmt(b)}, HR {_fmt(h)})"
                if gap < 0:
                    text += " — worse than bicubic"
            c = lb.correlations
            c = c[(c.protocol == p) & (c.degradation == deg) & (c.embedder == emb) & (c.quality == "psnr_y")]
            c = c[(c.identity == main) & c.tau.notna()]
            if not c.empty:
                r = c.iloc[0]
                text += (
                    f"; PSNR-Y ranks the {int(r.n_models)} models "
                    f"{'as' if r.tau > 0 else 'against' if r.tau < 0 else 'unrelated to'} {main} does "
                    f"(Kendall τ = {r.tau:+.2f}, 95% interval [{r.ci_low:+.2f}, {r.ci_high:+.2f}])"
                )
            lines.append(text + ".")
    return lines


def _summary(runs: RunSet, lb: Leaderboard) -> list[str]:
    """The findings in words, identity first: per model, the paired tests against bicubic (Holm-
    corrected, α = 0.05) on identity metrics, then on image quality; then whether PSNR ranked the
    models as identity did (Kendall τ)."""
    lines = []
    comps = lb.comparisons[lb.comparisons.model_b == "bicubic"]
    for model, g in comps.groupby("model_a", sort=False):
        parts = []
        for title, rows in (("identity", g[~g.metric.isin(_QUALITY)]), ("image quality", g[g.metric.isin(_QUALITY)])):
            if rows.empty:
                continue
            better, worse = [], []
            for c in rows.itertuples():
                if not (c.p_holm < 0.05) or c.diff == 0 or math.isnan(c.diff):
                    continue
                hib = runs.higher_is_better(c.protocol, c.metric)
                where = f"{c.metric} {c.diff:+.3g} ({c.protocol}, {c.degradation}, {c.embedder})"
                (better if (c.diff > 0) == hib else worse).append(where)
            text = f"{title}: better on {len(better)} of {len(rows)}, worse on {len(worse)}"
            if better or worse:
                text += " — " + "; ".join(
                    [f"better: {', '.join(better)}"] * bool(better) + [f"worse: {', '.join(worse)}"] * bool(worse)
                )
            parts.append(text)
        lines.append(f"{model} vs bicubic (paired tests, Holm-corrected, α = 0.05). " + ". ".join(parts) + ".")
    if not lines:
        lines.append("Only the HR and bicubic baselines were scored: no model to compare with bicubic.")
    corr = lb.correlations
    if not corr.empty:
        psnr = corr[(corr.quality == "psnr_y") & corr.tau.notna()]
        for c in psnr.itertuples():
            agree = "the same order as" if c.tau == 1 else "the reverse order of" if c.tau == -1 else "an order like"
            lines.append(
                f"Does PSNR predict identity? {c.protocol}, {c.degradation}, {c.embedder}: PSNR-Y ranks the "
                f"{c.n_models} models in {agree} {c.identity} (Kendall τ = {c.tau:+.2f}, 95% interval "
                f"[{c.ci_low:+.2f}, {c.ci_high:+.2f}])."
            )
    return lines


def _rows(table: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    value_cols = [c for c in table.columns if not c.endswith((" ci_low", " ci_high", " n"))]
    rows = []
    for rec in table.to_dict("records"):
        cells = []
        for c in value_cols:
            v = rec[c]
            ci = ""
            if f"{c} ci_low" in rec and isinstance(rec[f"{c} ci_low"], float) and not math.isnan(rec[f"{c} ci_low"]):
                ci = f"[{_fmt(rec[f'{c} ci_low'])}, {_fmt(rec[f'{c} ci_high'])}]"
            if isinstance(rec.get(f"{c} n"), (int, float)) and not math.isnan(rec[f"{c} n"]):
                ci += f" n={int(rec[f'{c} n'])}"
            sort = v if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else str(v)
            cells.append({"text": _fmt(v), "ci": ci, "sort": sort})
        rows.append({"cells": cells, "baseline": bool(rec.get("baseline"))})
    return value_cols, rows


def _markdown(table: pd.DataFrame) -> str:
    cols = [c for c in table.columns if not c.endswith((" ci_low", " ci_high", " n"))]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in table.to_dict("records"):
        lines.append("| " + " | ".join(_fmt(rec[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _markdown_correlations(corr: pd.DataFrame) -> str:
    if corr.empty:
        return ""
    lines = ["", "Does PSNR predict identity? Kendall τ-b across models (larger-is-better orientation), 95% "
             "bootstrap interval over faces (blank: undefined, the metric is equal for every model):", "",
             "| protocol | FR network | degradation | quality | identity | n models | τ | 95% interval |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in corr.itertuples():
        lines.append(f"| {c.protocol} | {c.embedder} | {c.degradation} | {c.quality} | {c.identity} | {c.n_models} | "
                     f"{_fmt(c.tau)} | [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}] |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _default_visible(columns: list[str], runs: RunSet) -> list[bool]:
    """Which leaderboard columns the HTML shows before the reader picks: the names, and per
    protocol its main score (with the gap recovered), the FR loss, and PSNR-Y once. Every column
    stays in the page (a checkbox shows it) and in the CSV/Markdown."""
    wanted: set[str] = set()
    for i, p in enumerate(dict.fromkeys(runs.results.protocol)):
        main = runs.protocols[p]["main_score"]
        wanted |= {f"{p}/{main}", f"{p}/{main} gap recovered", f"{p}/fr_loss"} | ({f"{p}/psnr_y"} if i == 0 else set())
    out = []
    for k, c in enumerate(columns):
        parts = c.split(" ")
        key = " ".join([parts[0], *parts[2:]]) if len(parts) > 1 and parts[1] in ("↑", "↓") else c
        out.append(k < 5 or "/" not in c or key in wanted)
    return out


def _fmt_p(p: float) -> str:
    """A p-value as text: three digits, and "< 1e-12" below (never a bare 0)."""
    if math.isnan(p):
        return ""
    return "< 1e-12" if p < 1e-12 else f"{p:.3g}"


def build_report(
    run_dirs: list[str | Path],
    html_path: str | Path | None,
    *,
    csv_path: str | Path | None = None,
    md_path: str | Path | None = None,
    json_path: str | Path | None = None,
    sort_by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Leaderboard:
    """Merge runs, compute intervals and comparisons, and write the requested files atomically."""
    runs = load_runs(run_dirs)
    lb = build_leaderboard(runs, sort_by=sort_by, n_boot=n_boot, seed=seed)
    if csv_path is not None:
        atomic_write_text(csv_path, lb.table.to_csv(index=False, float_format="%.17g"))
    if md_path is not None:
        atomic_write_text(md_path, _markdown(lb.table) + _markdown_correlations(lb.correlations))
    if json_path is not None:
        payload = {
            "bootstrap": {"n_boot": n_boot, "seed": seed, "interval": "percentile 95%"},
            "sort_by": lb.sort_by,
            "runs": list(runs.provenance),
            "metrics": json.loads(lb.metrics.to_json(orient="records")),
            "comparisons": json.loads(lb.comparisons.to_json(orient="records")),
            "correlations": json.loads(lb.correlations.to_json(orient="records")),
        }
        atomic_write_text(json_path, json.dumps(payload, indent=1) + "\n")
    if html_path is not None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("srfacebench.report", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        columns, rows = _rows(lb.table)
        visible = _default_visible(columns, runs)
        comparisons = [
            c
            | {
                "diff": _fmt(c["diff"]),
                "p_value": _fmt_p(c["p_value"]),
                "p_holm": "" if math.isnan(c["p_holm"]) else _fmt_p(c["p_holm"]),
                "significant": (c["p_holm"] if not math.isnan(c["p_holm"]) else c["p_value"]) < 0.05,
            }
            for c in lb.comparisons.to_dict("records")
        ]
        html = env.get_template("report.html.j2").render(
            runs={run: json.dumps(prov, indent=1, default=str) for run, prov in runs.provenance.items()},
            embedders=sorted(set(runs.results.embedder)),
            n_boot=n_boot,
            seed=seed,
            sort_by=lb.sort_by,
            subsets=runs.subsets,
            notes=[(run, n) for run, prov in runs.provenance.items() for n in prov.get("notes", [])]
            + [("merge", n) for n in runs.notes],
            answers=_answers(runs, lb),
            summary=_summary(runs, lb),
            cross_fr=_cross_fr(runs, lb),
            columns=columns,
            visible=visible,
            rows=rows,
            comparisons=comparisons,
            correlations=[
                {**c, "tau": _fmt(c["tau"]), "ci": f"[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]"}
                for c in lb.correlations.to_dict("records")
            ],
            figures=_figures(runs, lb),
            faces=_face_grids(runs),
        )
        atomic_write_text(html_path, html)
    return lb
