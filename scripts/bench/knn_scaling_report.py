"""Table and plot of the kNN scaling benchmark (tests/benchmarks/test_knn_scaling.py).

    python scripts/bench/knn_scaling_report.py [--json tests/benchmarks/results/knn_scaling.json]
        [--png docs/img/knn-scaling.png]

Prints the Markdown table of docs/benchmarks.md (time of a full leave-one-out search, its ratio to
the 2·N²·d matmul floor, peak memory, recall of the approximate backends), the exponent of N
fitted per backend and d (log-log least squares), and the projection to N = 10⁷ on one H200 and
on several under torchrun from the H200 figures in ../shared/docs/DEVICE-H200.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

H200_1M_FP32_S = 18.0  # exact leave-one-out of 1M × 128 with plain torch, chunks of 4,096 (DEVICE-H200.md)
H200_1M_BF16_S = 9.9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default="tests/benchmarks/results/knn_scaling.json")
    ap.add_argument("--png", default="docs/img/knn-scaling.png")
    args = ap.parse_args()
    rows = json.loads(Path(args.json).read_text())
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    print("| backend | d | N | leave-one-out | build | × floor | peak RSS | recall@1 | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (backends.index(r["backend"]), r["d"], r["n"])):
        rec = (f"{r['recall@1']:.4f} | {r['recall@10']:.4f}") if "recall@1" in r else "exact | exact"
        print(f"| {r['backend']} | {r['d']} | {r['n']:,} | {_t(r['loo_s'])} | {_t(r['build_s'])} | "
              f"{r['vs_floor']:.2f} | {r['peak_mb']:,.0f} MB | {rec} |")  # fmt: skip
    print("\nfitted time ∝ N^a (all N measured):")
    fits = {}
    for b in backends:
        for d in sorted({r["d"] for r in rows if r["backend"] == b}):
            pts = sorted((r["n"], r["loo_s"]) for r in rows if r["backend"] == b and r["d"] == d)
            if len(pts) >= 3:
                a, c = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)
                fits[(b, d)] = (a, c)
                at7 = np.exp(c) * 1e7**a
                print(f"- {b} d={d}: a = {a:.2f}; N = 10^7 on this CPU: {_t(at7)}")
    print(f"\nH200 (measured 1M × 128 exact: {H200_1M_FP32_S} s fp32, {H200_1M_BF16_S} s bf16); exact cost ∝ N²:")
    for gpus in (1, 8, 16):
        t = H200_1M_FP32_S * 100 / gpus
        print(f"- N = 10^7 exact fp32 on {gpus} H200: {_t(t)} (queries split; each rank holds the 5.1 GB gallery)")
    _plot(rows, backends, fits, Path(args.png))


def _t(s: float) -> str:
    if s < 0.05:
        return "—" if s == 0 else f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _plot(rows: list[dict], backends: list[str], fits: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted({r["d"] for r in rows})
    fig, axes = plt.subplots(1, len(dims), figsize=(5 * len(dims), 4), sharey=True)
    for ax, d in zip(np.atleast_1d(axes), dims, strict=True):
        for b in backends:
            pts = sorted((r["n"], r["loo_s"]) for r in rows if r["backend"] == b and r["d"] == d)
            if pts:
                ax.loglog(*zip(*pts, strict=True), "o-", label=b)
        ns = np.array(sorted({r["n"] for r in rows}))
        floor = [next(r["floor_s"] for r in rows if r["n"] == n and r["d"] == d) for n in ns if any(
            r["n"] == n and r["d"] == d for r in rows)]  # fmt: skip
        ax.loglog(ns[: len(floor)], floor, "k--", label="2·N²·d floor")
        ax.set_title(f"d = {d}")
        ax.set_xlabel("N (leave-one-out: N queries, N gallery)")
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("seconds (2-core CPU)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
