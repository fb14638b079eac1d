"""Bicubic up-scaling as an adapter module: ``srfacebench run --model srfacebench.adapters.bicubic``.

The same model as the built-in ``bicubic`` baseline, reached through the module-path route; it
reports the name ``bicubic-adapter`` so both can appear in one run.
"""

from __future__ import annotations

import torch

from srfacebench.degrade import bicubic_upsample
from srfacebench.resolver import ModelInfo


def load(scale: int, device: str = "cpu", **kwargs: object) -> object:
    def upscale(lr: torch.Tensor) -> torch.Tensor:
        return bicubic_upsample(lr, scale).clamp(0.0, 1.0)

    upscale.info = ModelInfo(name="bicubic-adapter", citation="MATLAB imresize, bicubic")  # type: ignore[attr-defined]
    return upscale
