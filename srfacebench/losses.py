"""The FR loss of Abello & Hirata: ||φ(SR) − φ(HR)||², per image.

Used by the intrinsic metrics (in eval mode) and by trainers. The paper trains with φ's weights
frozen but its BatchNorm layers in train mode, so their statistics keep updating (freezing them
gave colour distortions); ``bn_mode="train"`` reproduces that, ``"eval"`` freezes everything.
dlib's ResNet-29 has no BatchNorm (its normalisation is folded into fixed affine layers), so the
two modes are the same for it; they differ for facenet.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .embedders.base import FaceEmbedder

__all__ = ["FRLoss", "fr_distance"]


def fr_distance(emb_sr: torch.Tensor, emb_hr: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance per row: the FR loss of each image (B,)."""
    if emb_sr.shape != emb_hr.shape:
        raise ValueError(f"embedding shapes differ: SR {tuple(emb_sr.shape)} vs HR {tuple(emb_hr.shape)}")
    return ((emb_sr - emb_hr) ** 2).sum(dim=1)


class FRLoss(nn.Module):
    """``FRLoss(embedder)(sr, hr)`` → per-image ||φ(SR) − φ(HR)||² (B,), differentiable in ``sr``.

    Args:
        embedder: the FR network φ; its weights are frozen here.
        bn_mode: ``"train"`` (paper: BatchNorm statistics update) or ``"eval"``.

    Example:
        >>> from srfacebench.embedders.dlib_resnet import DlibResNet29
        >>> loss = FRLoss(DlibResNet29(), bn_mode="eval")
        >>> sr = torch.rand(2, 3, 160, 160, requires_grad=True)
        >>> loss(sr, torch.rand(2, 3, 160, 160)).shape
        torch.Size([2])
    """

    def __init__(self, embedder: FaceEmbedder, bn_mode: Literal["train", "eval"] = "train") -> None:
        super().__init__()
        if bn_mode not in ("train", "eval"):
            raise ValueError(f"bn_mode must be 'train' or 'eval', got {bn_mode!r}")
        self.embedder = embedder
        self.bn_mode = bn_mode
        self.embedder.requires_grad_(False)

    def train(self, mode: bool = True) -> FRLoss:  # keep φ's mode fixed by bn_mode
        super().train(mode)
        self.embedder.train(self.bn_mode == "train")
        return self

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        self.embedder.train(self.bn_mode == "train")
        with torch.no_grad():
            target = self.embedder(hr)
        return fr_distance(self.embedder(sr), target)
