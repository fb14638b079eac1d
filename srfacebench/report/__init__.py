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

from ..io import atomic_write_text
from ..registry import HR
from .leaderboard import Leaderboard, build_leaderboard
from .plots import bar_plot, cmc_plot, roc_plot
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


def _face_grids(runs: RunSet) -> list[dict[str, Any]]:
    """Sample faces from the runs' ``samples/`` folders (manifest ``samples.json``)."""
    grids: dict[int, dict[str, Any]] = {}
    for folder in runs.samples.values():
        manifest = folder / "samples.json"
        if not manifest.is_file():
            continue
        m = json.loads(manifest.read_text(encoding="utf-8"))
        for entry in m["entries"]:
            scale = int(entry["scale"])
            g = grids.setdefault(scale, {"scale": scale, "columns": ["HR", f"LR x{scale}"], "cells": {}})
            col = "HR" if entry["model"] == HR else (f"LR x{scale}" if entry["kind"] == "lr" else entry["model"])
            if col not in g["columns"]:
                g["columns"].append(col)
            g["cells"][(entry["image"], col)] = _data_uri(folder / entry["file"])
    out = []
    for scale in sorted(grids):
        g = grids[scale]
        names = list(dict.fromkeys(name for name, _ in g["cells"]))
        rows = [{"name": n, "images": [g["cells"].get((n, c)) for c in g["columns"]]} for n in names]
        out.append({"scale": scale, "columns": g["columns"], "rows": rows})
    return out


def _figures(runs: RunSet, lb: Leaderboard) -> list[dict[str, Any]]:
    sections = []
    res = runs.results
    for p in dict.fromkeys(res.protocol):
        scales = sorted(int(s) for s in res[res.protocol == p].scale.unique() if s != 1)
        task = runs.protocols[p].get("task")
        imgs: list[str | None] = []
        if task == "identification":
            for s in scales:
                imgs += [cmc_plot(runs, p, s, include_lr=True), cmc_plot(runs, p, s, include_lr=False)]
            title = f"{p}: CMC curves"
        else:
            imgs += [roc_plot(runs, p, s) for s in scales]
            title = f"{p}: ROC curves"
        if any(imgs):
            sections.append({"title": title, "images": [i for i in imgs if i]})
        bars = [bar_plot(lb.metrics, p, m) for m in runs.protocols[p]["metrics"]]
        if any(bars):
            sections.append({"title": f"{p}: metrics with 95% bootstrap intervals", "images": [b for b in bars if b]})
    return sections


def _rows(table: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    value_cols = [c for c in table.columns if not c.endswith(" ci_low") and not c.endswith(" ci_high")]
    rows = []
    for rec in table.to_dict("records"):
        cells = []
        for c in value_cols:
            v = rec[c]
            ci = ""
            if f"{c} ci_low" in rec and isinstance(rec[f"{c} ci_low"], float) and not math.isnan(rec[f"{c} ci_low"]):
                ci = f"[{_fmt(rec[f'{c} ci_low'])}, {_fmt(rec[f'{c} ci_high'])}]"
            sort = v if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else str(v)
            cells.append({"text": _fmt(v), "ci": ci, "sort": sort})
        rows.append({"cells": cells, "baseline": bool(rec.get("baseline"))})
    return value_cols, rows


def _markdown(table: pd.DataFrame) -> str:
    cols = [c for c in table.columns if not c.endswith(" ci_low") and not c.endswith(" ci_high")]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in table.to_dict("records"):
        lines.append("| " + " | ".join(_fmt(rec[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


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
        atomic_write_text(md_path, _markdown(lb.table))
    if json_path is not None:
        payload = {
            "bootstrap": {"n_boot": n_boot, "seed": seed, "interval": "percentile 95%"},
            "sort_by": lb.sort_by,
            "runs": list(runs.provenance),
            "metrics": json.loads(lb.metrics.to_json(orient="records")),
            "comparisons": json.loads(lb.comparisons.to_json(orient="records")),
        }
        atomic_write_text(json_path, json.dumps(payload, indent=1) + "\n")
    if html_path is not None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("srfacebench.report", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        columns, rows = _rows(lb.table)
        comparisons = [
            c | {"diff": _fmt(c["diff"]), "p_value": f"{c['p_value']:.3g}", "significant": c["p_value"] < 0.05}
            for c in lb.comparisons.to_dict("records")
        ]
        html = env.get_template("report.html.j2").render(
            runs={run: json.dumps(prov, indent=1, default=str) for run, prov in runs.provenance.items()},
            embedders=sorted(set(runs.results.embedder)),
            n_boot=n_boot,
            seed=seed,
            sort_by=lb.sort_by,
            columns=columns,
            rows=rows,
            comparisons=comparisons,
            figures=_figures(runs, lb),
            faces=_face_grids(runs),
        )
        atomic_write_text(html_path, html)
    return lb
