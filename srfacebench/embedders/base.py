"""The FaceEmbedder interface: a differentiable face-recognition network φ."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FaceEmbedder", "resize_bicubic"]


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of a B×C×H×W batch to ``size`` (anti-aliased when shrinking).

    A no-op (the same tensor) when the batch already has that size.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


class FaceEmbedder(nn.Module):
    """Base class of face embedders.

    Subclasses set the class attributes and implement :meth:`embed_normalised`. ``forward`` takes
    B×3×H×W RGB in [0, 1] of any size, resizes it (bicubic) to ``input_size``, normalises it as the
    network expects and returns B×``dim`` embeddings. It is differentiable. Evaluation runs it in
    eval mode, so an embedding never depends on the rest of its batch.

    Attributes:
        name: registry name, e.g. ``"dlib-resnet29"``.
        input_size: (H, W) the network takes.
        dim: embedding dimension.
        distance: how embeddings are compared; ``"euclidean"`` for all built-ins.
    """

    name: ClassVar[str] = ""
    input_size: ClassVar[tuple[int, int]] = (0, 0)
    dim: ClassVar[int] = 0
    distance: ClassVar[str] = "euclidean"

    def normalise(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def embed_normalised(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.name}: expected a B×3×H×W RGB batch, got shape {tuple(x.shape)}")
        x = resize_bicubic(x, self.input_size)
        return self.embed_normalised(self.normalise(x))

    def describe(self) -> dict[str, object]:
        """Metadata recorded in results and cache keys."""
        return {
            "name": self.name,
            "input_size": list(self.input_size),
            "dim": self.dim,
            "distance": self.distance,
            "weights_sha256": getattr(self, "weights_sha256", None),
        }
