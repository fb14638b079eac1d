"""Stateful metrics for training loops (torchmetrics-style ``update``/``compute``/``reset``).

Drop-in for a BasicSR or Lightning validation loop::

    fr = FRDistance("dlib-resnet29").to(device)      # or any FaceEmbedder instance
    psnr = PSNRY(crop_border=4, data_range=1.0)
    for lr, hr in val_loader:
        sr = model(lr)
        fr.update(sr, hr)
        psnr.update(sr, hr)
    log({"val/fr_distance": fr.compute(), "val/psnr_y": psnr.compute()})

They reuse the functional metrics of :mod:`srfacebench.metrics.image` and
:func:`srfacebench.losses.fr_distance`, so the numbers equal what ``srfacebench run`` reports for
the same images. They do not depend on the torchmetrics package (its ``Metric`` adds distributed
sync; wrap these in it if you need that).
"""

from __future__ import annotations

from typing import Any

import torch

from ..losses import fr_distance
from .image import psnr_y, ssim_y

__all__ = ["PSNRY", "SSIMY", "FRDistance"]


class _Mean:
    """Running mean of per-image values; device-agnostic state kept in float64."""

    higher_is_better: bool = True

    def __init__(self) -> None:
        self.device = torch.device("cpu")
        self.reset()

    def reset(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64)
        self.count = 0

    def to(self, device: str | torch.device) -> Any:
        self.device = torch.device(device)
        return self

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def update(self, sr: torch.Tensor, hr: torch.Tensor) -> None:
        if sr.shape != hr.shape:
            raise ValueError(f"{type(self).__name__}: sr {tuple(sr.shape)} and hr {tuple(hr.shape)} differ in shape")
        v = self._values(sr.to(self.device), hr.to(self.device)).double().cpu()
        self.total += v.sum()
        self.count += v.numel()

    def compute(self) -> torch.Tensor:
        if self.count == 0:
            raise RuntimeError(f"{type(self).__name__}.compute() called before any update()")
        return self.total / self.count

    def __call__(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """Update with a batch and return that batch's value (like ``Metric.forward``)."""
        with torch.no_grad():
            v = self._values(sr.to(self.device), hr.to(self.device)).double()
        self.total += v.sum().cpu()
        self.count += v.numel()
        return v.mean()


class PSNRY(_Mean):
    """Mean PSNR (dB) on BT.601 Y. ``data_range``: the value of white in the inputs (1.0 or 255)."""

    higher_is_better = True

    def __init__(self, crop_border: int = 0, data_range: float = 1.0) -> None:
        if data_range <= 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        self.crop_border, self.data_range = crop_border, float(data_range)
        super().__init__()

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return psnr_y(sr / self.data_range, hr / self.data_range, self.crop_border)


class SSIMY(PSNRY):
    """Mean SSIM on BT.601 Y (11×11 Gaussian, σ = 1.5), same arguments as :class:`PSNRY`."""

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return ssim_y(sr / self.data_range, hr / self.data_range, self.crop_border)


class FRDistance(_Mean):
    """Mean FR loss ||φ(SR) − φ(HR)||² under a face embedder φ (eval mode; lower is better).

    ``embedder``: a registered name (``"dlib-resnet29"``, ``"mobileface-v2"``) or a FaceEmbedder.
    ``data_range`` as for :class:`PSNRY`.
    """

    higher_is_better = False

    def __init__(self, embedder: Any = "dlib-resnet29", data_range: float = 1.0, **embedder_kwargs: Any) -> None:
        if isinstance(embedder, str):
            from ..registry import load_embedder

            embedder = load_embedder(embedder, **embedder_kwargs)
        self.embedder = embedder.eval()
        self.data_range = float(data_range)
        super().__init__()

    def to(self, device: str | torch.device) -> FRDistance:
        self.embedder = self.embedder.to(device)
        super().to(device)
        return self

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        self.embedder.eval()
        return fr_distance(self.embedder(sr / self.data_range), self.embedder(hr / self.data_range))
