"""Metric objects for training loops: ``torchmetrics.Metric`` subclasses where torchmetrics is
installed (``pip install 'srfacebench[metrics]'``), plain ``nn.Module``s with the same API otherwise.

Drop-in for a BasicSR or Lightning validation loop::

    fr = FRDistance("dlib-resnet29").to(device)      # or any FaceEmbedder instance
    psnr = PSNRY(scale=4)                            # crop border = scale, as `srfacebench run`
    for lr, hr in val_loader:
        sr = model(lr)
        fr.update(sr, hr)
        psnr.update(sr, hr)
    log({"val/fr_distance": fr.compute(), "val/psnr_y": psnr.compute()})

With torchmetrics they go in a ``MetricCollection``, sync across processes (sum of per-image
values and their count) and follow ``.to()``; without it they are ``nn.Module``s whose state is
two buffers. Either way they reuse the functional metrics of :mod:`srfacebench.metrics.image` and
:func:`srfacebench.losses.fr_distance`, so the numbers equal what ``srfacebench run`` reports for
the same images and crop border.

Inputs are RGB B×3×H×W in ``[0, data_range]``; values outside it by more than 1% of the range are
an error (0..255 images given with ``data_range=1.0`` would otherwise give a meaningless number).
"""

from __future__ import annotations

from typing import Any

import torch

from ..losses import fr_distance
from .image import psnr_y, ssim_y

__all__ = ["HAVE_TORCHMETRICS", "PSNRY", "SSIMY", "FRDistance"]

try:  # the real thing where installed
    from torchmetrics import Metric as _Base

    HAVE_TORCHMETRICS = True
except Exception:  # pragma: no cover - absent, or broken (a torchvision that fails beside this torch)
    _Base = torch.nn.Module
    HAVE_TORCHMETRICS = False

_RANGE_SLACK = 0.01


class _Mean(_Base):  # type: ignore[misc, valid-type]
    """Running mean of per-image values (sum in float64 and count)."""

    higher_is_better: bool = True
    is_differentiable = False
    full_state_update = False

    def __init__(self, data_range: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not data_range > 0:
            raise ValueError(f"{type(self).__name__}: data_range must be positive, got {data_range}")
        self.data_range = float(data_range)
        zero, none = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)
        if HAVE_TORCHMETRICS:
            self.add_state("total", default=zero, dist_reduce_fx="sum")
            self.add_state("count", default=none, dist_reduce_fx="sum")
        else:
            self.register_buffer("total", zero)
            self.register_buffer("count", none)

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _checked(self, sr: torch.Tensor, hr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        name = type(self).__name__
        if sr.shape != hr.shape:
            raise ValueError(f"{name}: sr {tuple(sr.shape)} and hr {tuple(hr.shape)} differ in shape")
        if sr.ndim != 4 or sr.shape[1] != 3:
            raise ValueError(f"{name}: expected RGB batches B×3×H×W, got {tuple(sr.shape)}")
        for label, t in (("sr", sr), ("hr", hr)):
            lo, hi = float(t.min()), float(t.max())
            slack = _RANGE_SLACK * self.data_range
            if lo < -slack or hi > self.data_range + slack:
                hint = " (0..255 images: pass data_range=255)" if hi > 2 and self.data_range == 1.0 else ""
                raise ValueError(
                    f"{name}: {label} values in [{lo:.4g}, {hi:.4g}] are outside [0, data_range={self.data_range:g}]"
                    f"{hint}"
                )
        return sr / self.data_range, hr / self.data_range

    @torch.no_grad()
    def _add(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """Accumulate one batch's per-image values; returns them."""
        v = self._values(*self._checked(sr, hr.to(sr.device))).double()
        self.total = self.total + v.sum().to(self.total.device)
        self.count = self.count + v.numel()
        return v

    def update(self, sr: torch.Tensor, hr: torch.Tensor) -> None:
        self._add(sr, hr)

    def compute(self) -> torch.Tensor:
        if int(self.count) == 0:
            raise RuntimeError(f"{type(self).__name__}.compute() called before any update()")
        return self.total / self.count

    if not HAVE_TORCHMETRICS:

        def reset(self) -> None:
            self.total = torch.zeros_like(self.total)
            self.count = torch.zeros_like(self.count)

        def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
            """Update with a batch and return that batch's value (like ``Metric.forward``)."""
            return self._add(sr, hr).mean()


def _crop(scale: int | None, crop_border: int | None, name: str) -> int:
    if crop_border is None and scale is None:
        raise ValueError(
            f"{name}: give scale= (the border cropped is then the scale, as `srfacebench run` measures) "
            "or crop_border= explicitly"
        )
    c = scale if crop_border is None else crop_border
    if not isinstance(c, int) or isinstance(c, bool) or c < 0:
        raise ValueError(f"{name}: crop border must be an integer >= 0, got {c!r}")
    return c


class PSNRY(_Mean):
    """Mean PSNR (dB) on BT.601 Y.

    Args:
        scale: the SR scale; the border cropped before measuring is ``scale`` pixels, as in a run.
        crop_border: the border instead (e.g. 0 to measure whole images).
        data_range: the value of white in the inputs (1.0 or 255).
    """

    higher_is_better = True

    def __init__(
        self, scale: int | None = None, crop_border: int | None = None, data_range: float = 1.0, **kwargs: Any
    ) -> None:
        super().__init__(data_range, **kwargs)
        self.crop_border = _crop(scale, crop_border, type(self).__name__)

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return psnr_y(sr, hr, self.crop_border)


class SSIMY(PSNRY):
    """Mean SSIM on BT.601 Y (11×11 Gaussian, σ = 1.5); the same arguments as :class:`PSNRY`."""

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return ssim_y(sr, hr, self.crop_border)


class FRDistance(_Mean):
    """Mean FR loss ||φ(SR) − φ(HR)||² under a face embedder φ (eval mode; lower is better).

    ``embedder``: a registered name (``"dlib-resnet29"``, ``"mobileface-v2"``) or a FaceEmbedder
    (a submodule: ``.to()`` moves it). ``data_range`` as for :class:`PSNRY`.
    """

    higher_is_better = False

    def __init__(
        self, embedder: Any = "dlib-resnet29", data_range: float = 1.0, embedder_kwargs: dict | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(data_range, **kwargs)
        if isinstance(embedder, str):
            from ..registry import load_embedder

            embedder = load_embedder(embedder, **(embedder_kwargs or {}))
        self.embedder = embedder.eval()

    def _values(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        self.embedder.eval()
        return fr_distance(self.embedder(sr), self.embedder(hr))
