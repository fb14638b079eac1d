"""The metric catalogue: every metric a task can produce, its direction and how it is bootstrapped.

Protocol TOMLs only *select* metrics from here; a name that is not in the catalogue of the
protocol's task (a typo, a rank the task does not compute) is an error when the protocol is loaded.

``bootstrap`` says how the report resamples the metric: ``pairs`` (pairs resampled within folds,
thresholds re-chosen), ``identities`` (probes resampled by identity clusters) or ``images``.
"""

from __future__ import annotations

from dataclasses import dataclass

SSIM_WINDOW = 11  # the Gaussian window's side: SSIM needs at least this many pixels after cropping

__all__ = ["INTRINSIC", "MetricInfo", "task_metrics"]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    bootstrap: str
    description: str


INTRINSIC = {
    "psnr_y": MetricInfo("psnr_y", True, "images", "PSNR on BT.601 Y, crop border = scale (dB)"),
    "ssim_y": MetricInfo("ssim_y", True, "images", "SSIM on BT.601 Y, 11x11 Gaussian, crop border = scale"),
    "fr_loss": MetricInfo("fr_loss", False, "images", "||φ(SR) − φ(HR)||², mean over images"),
}

_VERIFICATION = {
    "accuracy": MetricInfo("accuracy", True, "pairs", "10-fold accuracy, threshold chosen on the other folds"),
    "auc": MetricInfo("auc", True, "pairs", "ROC AUC over all pairs"),
    "eer": MetricInfo("eer", False, "pairs", "equal error rate (interpolated on the ROC)"),
    "tar@far=1e-3": MetricInfo("tar@far=1e-3", True, "pairs", "true accept rate at FAR 1e-3"),
}

IDENTIFICATION_RANKS = (1, 5, 10)


def task_metrics(
    task: str, ks: tuple[int, ...] = (1, 5, 10), fpir: tuple[float, ...] = (0.1, 0.01)
) -> dict[str, MetricInfo]:
    """The metrics a task produces (identification's depend on its ``ks`` and ``fpir``).

    >>> sorted(task_metrics("verification"))[:3]
    ['accuracy', 'auc', 'eer']
    >>> "knn3_accuracy" in task_metrics("identification", ks=(1, 3))
    True
    """
    if task == "verification":
        return {**_VERIFICATION, **INTRINSIC}
    if task == "identification":
        out = {
            f"knn{k}_accuracy": MetricInfo(
                f"knn{k}_accuracy", True, "identities", f"leave-one-out {k}-NN vote accuracy"
            )
            for k in ks
        }
        out |= {
            f"rank{k}": MetricInfo(f"rank{k}", True, "identities", f"CMC at rank {k}") for k in IDENTIFICATION_RANKS
        }
        out |= {
            f"fnir@fpir={t:g}": MetricInfo(f"fnir@fpir={t:g}", False, "identities", f"open-set FNIR at FPIR {t:g}")
            for t in fpir
        }
        return {**out, **INTRINSIC}
    raise KeyError(task)
