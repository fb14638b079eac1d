"""What a metric is: its name, direction and how the report bootstraps it.

Each task declares the metrics it can produce (:meth:`srfacebench.tasks.Task.metrics`); protocol
TOMLs only *select* from their task's catalogue, and a name that is not in it (a typo, a rank the
task does not compute) is an error when the protocol is loaded.

``bootstrap`` says how the report resamples the metric: ``pairs`` (pairs resampled within folds,
thresholds re-chosen), ``identities`` (items resampled by identity clusters) or ``images``.
"""

from __future__ import annotations

from dataclasses import dataclass

SSIM_WINDOW = 11  # the Gaussian window's side: SSIM needs at least this many pixels after cropping

__all__ = ["SSIM_WINDOW", "MetricInfo"]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    bootstrap: str
    description: str
