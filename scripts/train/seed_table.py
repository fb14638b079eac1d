"""ft-fr against ft-vanilla over several training seeds, as Markdown, from a report's JSON.

    srfacebench report RUN -o r.html --json lb.json --bootstrap 200
    python scripts/train/seed_table.py lb.json [lb2.json ...] SEED:VANILLA_MODEL:FR_MODEL [SEED:VANILLA:FR ...]

(one report per seed, or one report of all of them: the metrics and comparisons of every JSON given
are read together).

Per FR network: one row per seed (each branch's verification accuracy, identification rank-1, FR
loss and PSNR-Y, the differences ft-fr − ft-vanilla and their paired tests' p-values as the report
computed them), then the mean over seeds of each difference and how many seeds have ft-fr at least
ft-vanilla. Values are copied from the report's JSON, not recomputed; only the means are computed
here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (protocol, metric, label, higher is better, format)
COLUMNS = [
    ("lfw-verification", "accuracy", "accuracy", True, "{:.4f}"),
    ("lfw-identification", "rank1", "rank-1", True, "{:.4f}"),
    ("lfw-verification", "fr_loss", "FR loss", False, "{:.4f}"),
    ("lfw-verification", "psnr_y", "PSNR-Y", True, "{:.2f}"),
]


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def main(argv: list[str]) -> None:
    files = [a for a in argv if a.endswith(".json")]
    seeds = [tuple(a.split(":")) for a in argv if not a.endswith(".json")]
    if not files or not seeds or any(len(s) != 3 for s in seeds):
        sys.exit("give the report JSON(s), then SEED:VANILLA_MODEL:FR_MODEL for every seed")
    data: dict[str, list] = {"metrics": [], "comparisons": []}
    for f in files:
        d = json.loads(Path(f).read_text(encoding="utf-8"))
        data["metrics"] += d["metrics"]
        data["comparisons"] += d["comparisons"]
    value = {(m["protocol"], m["model"], m["embedder"], m["metric"]): m["value"] for m in data["metrics"]}
    pvals = {}
    for c in data["comparisons"]:
        pvals[(c["protocol"], c["model_a"], c["model_b"], c["embedder"], c["metric"])] = c["p_value"]
        pvals[(c["protocol"], c["model_b"], c["model_a"], c["embedder"], c["metric"])] = c["p_value"]
    embedders = list(dict.fromkeys(m["embedder"] for m in data["metrics"]))
    for emb in embedders:
        print(f"\n**{emb}** (ft-fr − ft-vanilla; p: the report's paired test, uncorrected)\n")
        head = ["seed"] + [f"{label}: vanilla / fr / fr − vanilla (p)" for _, _, label, _, _ in COLUMNS]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        diffs: dict[str, list[float]] = {label: [] for _, _, label, _, _ in COLUMNS}
        wins: dict[str, int] = {label: 0 for _, _, label, _, _ in COLUMNS}
        for seed, van, fr in seeds:
            cells = [seed]
            for proto, metric, label, higher, f in COLUMNS:
                key_emb = embedders[0] if metric == "psnr_y" else emb  # PSNR is the same under every network
                a, b = value.get((proto, van, key_emb, metric)), value.get((proto, fr, key_emb, metric))
                if a is None or b is None:
                    cells.append("—")
                    continue
                d = b - a
                diffs[label].append(d)
                wins[label] += (d >= 0) if higher else (d <= 0)
                p = pvals.get((proto, fr, van, key_emb, metric))
                cells.append(f"{f.format(a)} / {f.format(b)} / {d:+.4f} ({fmt_p(p)})")
            print("| " + " | ".join(cells) + " |")
        cells = ["mean"]
        for _, _, label, higher, _ in COLUMNS:
            ds = diffs[label]
            if not ds:
                cells.append("—")
                continue
            better = "≥" if higher else "≤"
            cells.append(f"{sum(ds) / len(ds):+.4f} (ft-fr {better} ft-vanilla in {wins[label]} of {len(ds)} seeds)")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
