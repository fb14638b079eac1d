"""Face-recognition networks φ behind the FaceEmbedder interface."""

from .base import FaceEmbedder, resize_bicubic

__all__ = ["FaceEmbedder", "resize_bicubic"]
