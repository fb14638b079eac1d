"""Plot a fine-tuning folder's loss curves (both branches) and copy its logs beside the plot.

    python scripts/train/plot_losses.py runs/ft-medium-x4 docs/reference_models/medium-x4-ft
writes ``<prefix>-losses.png``, ``<prefix>-{vanilla,fr}-losses.csv`` and ``<prefix>-summary.json``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def main(folder: Path, prefix: Path) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for branch, colour in (("vanilla", "#4c72b0"), ("fr", "#dd8452")):
        df = pd.read_csv(folder / branch / "losses.csv")
        shutil.copyfile(folder / branch / "losses.csv", f"{prefix}-{branch}-losses.csv")
        val = df.dropna(subset=["val_mse"])
        axes[0].plot(
            df.step, df.mse.rolling(20, min_periods=1).mean(), color=colour, label=f"{branch} (train, 20-step mean)"
        )
        axes[1].plot(val.step, val.val_mse, "o-", color=colour, label=f"{branch} (validation)")
        if branch == "fr":
            axes[2].plot(
                df.step, df.fr.rolling(20, min_periods=1).mean(), color=colour, label="fr (train, 20-step mean)"
            )
            axes[2].plot(val.step, val.val_fr, "o-", color="#c44e52", label="fr (validation)")
    for ax, title in zip(axes, ("MSE (train)", "MSE (validation)", "FR loss, dlib (fr branch)"), strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(folder.name, fontsize=10)
    fig.savefig(f"{prefix}-losses.png", dpi=96, bbox_inches="tight")
    shutil.copyfile(folder / "summary.json", f"{prefix}-summary.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
