"""Intrinsic metrics, beside every protocol: PSNR-Y and SSIM-Y of each SR image against its HR
chip (computed while streaming), and the FR loss ||φ(SR) − φ(HR)||² under each FR network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics.catalogue import MetricInfo
from . import Task, TaskInput, TaskScore

if TYPE_CHECKING:
    import pandas as pd

METRICS = {
    "psnr_y": MetricInfo("psnr_y", True, "images", "PSNR on BT.601 Y, crop border = scale (dB)"),
    "ssim_y": MetricInfo("ssim_y", True, "images", "SSIM on BT.601 Y, 11x11 Gaussian, crop border = scale"),
    "fr_loss": MetricInfo("fr_loss", False, "images", "||φ(SR) − φ(HR)||², mean over images"),
}


def fr_distance_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row squared Euclidean distance in float64 (the training loss's formula)."""
    import torch

    from ..losses import fr_distance

    return fr_distance(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(b.astype(np.float64))).numpy()


class Intrinsic(Task):
    name = "intrinsic"
    convention = (
        "PSNR/SSIM on BT.601 Y in float64, crop border = scale, SSIM 11x11 Gaussian sigma 1.5 "
        "valid region; mean and std (ddof=0) over images; not reported for HR (PSNR would be inf); FR loss "
        "on L2-normalised embeddings for cosine networks"
    )
    items_file = "images.csv"
    fr_independent = frozenset({"psnr_y", "ssim_y"})
    scores_hr = False  # HR against itself: PSNR = inf, SSIM = 1, FR loss = 0
    bootstrap_tag = "/images"

    def metrics(self, options: Any) -> dict[str, MetricInfo]:
        return dict(METRICS)

    def columns(self, options: Any) -> list[str]:
        return ["image", *METRICS]

    def score(self, x: TaskInput) -> TaskScore:
        assert x.iq is not None
        frl = fr_distance_np(x.emb, x.hr_emb)
        values = {"psnr_y": x.iq[:, 0], "ssim_y": x.iq[:, 1], "fr_loss": frl}
        metrics = {m: (float(np.mean(v)), float(np.std(v))) for m, v in values.items()}
        items = [
            [x.faceset.paths[i], repr(float(x.iq[i, 0])), repr(float(x.iq[i, 1])), repr(float(frl[i]))]
            for i in range(len(frl))
        ]
        return TaskScore(metrics, len(frl), {}, items)

    def replicates(
        self, items: pd.DataFrame, options: dict[str, Any] | None, n_boot: int, seed: int, tag: str
    ) -> dict[str, np.ndarray]:
        from ..metrics.stats import bootstrap_clusters

        values = {m: items[m].to_numpy(float) for m in METRICS}
        return dict(bootstrap_clusters(values, np.arange(len(items)), n_boot, seed, tag).replicates)

    def paired_tests(
        self, a: pd.DataFrame, b: pd.DataFrame, reps_a: dict[str, np.ndarray], reps_b: dict[str, np.ndarray]
    ) -> list[tuple[str, float, str]]:
        from ..metrics.stats import wilcoxon_p

        return [(m, wilcoxon_p(a[m].to_numpy(float), b[m].to_numpy(float)), "Wilcoxon signed-rank") for m in METRICS]


TASK = Intrinsic()
