"""Compact Markdown tables for docs/leaderboard.md from run folders (their results.csv).

    python scripts/zoo/leaderboard_tables.py RUN_DIR [RUN_DIR ...]

One table per (run, degradation): a row per model; PSNR-Y, SSIM-Y (from the verification
protocol's images; the same for every FR network), then per FR network its FR loss, verification
accuracy ± std and AUC, and identification rank-1 where the run has it. Values are copied from
results.csv, not recomputed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def table(df: pd.DataFrame) -> str:
    embs = list(dict.fromkeys(df.embedder))
    ver = df[df.protocol == "lfw-verification"]
    idn = df[df.protocol == "lfw-identification"]
    cols = ["model", "PSNR-Y", "SSIM-Y"]
    for e in embs:
        short = e.split("-")[0]
        cols += [f"FR loss ({short})", f"acc ({short})", f"AUC ({short})"] + ([f"rank-1 ({short})"] if len(idn) else [])
    rows = []
    for m in dict.fromkeys(df.model):

        def get(sub, metric, emb, fmt="{:.4f}", std=False, m=m):
            r = sub[(sub.model == m) & (sub.metric == metric) & (sub.embedder == emb)]
            if r.empty:
                return "—"
            v = fmt.format(float(r.value.iloc[0]))
            return v + (f" ± {float(r['std'].iloc[0]):.4f}" if std and pd.notna(r["std"].iloc[0]) else "")

        row = [m, get(ver, "psnr_y", embs[0], "{:.2f}"), get(ver, "ssim_y", embs[0])]
        for e in embs:
            row += [get(ver, "fr_loss", e), get(ver, "accuracy", e, std=True), get(ver, "auc", e)]
            if len(idn):
                row.append(get(idn, "rank1", e))
        rows.append(row)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    for run in sys.argv[1:]:
        df = pd.read_csv(Path(run) / "results.csv", keep_default_na=False, na_values=[""])
        for deg in [d for d in dict.fromkeys(df.degradation) if d != "none"]:
            sub = df[df.degradation.isin([deg, "none"])]
            n = df[(df.metric == "accuracy") & (df.degradation == deg)]["n"]
            print(f"\n### {Path(run).name}: {deg} ({int(n.iloc[0]) if len(n) else '?'} verification pairs)\n")
            print(table(sub))


if __name__ == "__main__":
    main()
