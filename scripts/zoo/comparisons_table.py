"""The paired tests between chosen models, as a Markdown table, from a report's JSON.

    srfacebench report RUN -o r.html --json lb.json --bootstrap 200
    python scripts/zoo/comparisons_table.py lb.json MODEL_A MODEL_B [MODEL_A MODEL_B ...]

For each pair (a, b): per FR network and metric, the difference a − b, the test and its p-value
(uncorrected) and, for comparisons against bicubic, the Holm-corrected p. Values are copied from
the report's JSON (srfacebench.report), not recomputed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt_p(p: float | None) -> str:
    if p is None:
        return ""
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def main(argv: list[str]) -> None:
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    pairs = list(zip(argv[1::2], argv[2::2], strict=True))
    print("| a | b | FR network | metric | a − b | test | p |")
    print("|---|---|---|---|---|---|---|")
    for a, b in pairs:
        for c in data["comparisons"]:
            flip = (c["model_a"], c["model_b"]) == (b, a)
            if (c["model_a"], c["model_b"]) != (a, b) and not flip:
                continue
            diff = -c["diff"] if flip else c["diff"]
            p = c["p_holm"] if c.get("p_holm") is not None else c["p_value"]
            kind = " (Holm)" if c.get("p_holm") is not None else ""
            # PSNR/SSIM do not depend on the FR network; every other metric (FR loss, centroid FR loss,
            # accuracy, rank-k, FNIR...) is that network's.
            emb = "—" if c["metric"] in ("psnr_y", "ssim_y") else c["embedder"]
            print(f"| {a} | {b} | {emb} | {c['metric']} | {diff:+.4g} | {c['test']}{kind} | {fmt_p(p)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
