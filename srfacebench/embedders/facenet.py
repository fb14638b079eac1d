"""facenet's InceptionResnetV1 (the paper's FR network), with facenet-pytorch's state-dict keys.

Weights are not downloaded: pass a local file (``--fr facenet-vggface2 --fr-weights PATH``), e.g.
facenet-pytorch's ``20180402-114759-vggface2.pt`` (a plain state dict; loaded with
``weights_only=True``). Input 160×160; each image is pre-whitened as in the paper (facenet's
``prewhiten``: minus its own mean, divided by its own standard deviation, floored at
1/sqrt(number of values), on 0–255 pixel values). Output: L2-normalised 512-D embeddings, as
facenet-pytorch returns them.

Without the weights file this network can only be checked for shapes, key names and gradients
(which the tests do); the numbers it gives with random weights mean nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from .base import FaceEmbedder

__all__ = ["FacenetVGGFace2", "InceptionResnetV1", "prewhiten"]

WEIGHTS_HELP = (
    "facenet-vggface2 needs a local weights file: pass --fr-weights PATH (Python: weights=PATH). "
    "Get facenet-pytorch's '20180402-114759-vggface2.pt' (the VGGFace2 InceptionResnetV1 state dict, "
    "from the facenet-pytorch GitHub releases) on a machine with internet access and copy it here."
)


class _Conv(nn.Module):
    """conv (no bias) + BatchNorm (eps 1e-3) + ReLU: facenet-pytorch's BasicConv2d."""

    def __init__(self, cin: int, cout: int, k: int | tuple[int, int], stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class _Block35(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = _Conv(256, 32, 1)
        self.branch1 = nn.Sequential(_Conv(256, 32, 1), _Conv(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(_Conv(256, 32, 1), _Conv(32, 32, 3, padding=1), _Conv(32, 32, 3, padding=1))
        self.conv2d = nn.Conv2d(96, 256, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return self.relu(x + self.scale * out)


class _Block17(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = _Conv(896, 128, 1)
        self.branch1 = nn.Sequential(
            _Conv(896, 128, 1), _Conv(128, 128, (1, 7), padding=(0, 3)), _Conv(128, 128, (7, 1), padding=(3, 0))
        )
        self.conv2d = nn.Conv2d(256, 896, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return self.relu(x + self.scale * out)


class _Block8(nn.Module):
    def __init__(self, scale: float = 1.0, no_relu: bool = False) -> None:
        super().__init__()
        self.scale = scale
        self.no_relu = no_relu
        self.branch0 = _Conv(1792, 192, 1)
        self.branch1 = nn.Sequential(
            _Conv(1792, 192, 1), _Conv(192, 192, (1, 3), padding=(0, 1)), _Conv(192, 192, (3, 1), padding=(1, 0))
        )
        self.conv2d = nn.Conv2d(384, 1792, 1)
        if not no_relu:
            self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.scale * self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return out if self.no_relu else self.relu(out)


class _Mixed6a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _Conv(256, 384, 3, stride=2)
        self.branch1 = nn.Sequential(_Conv(256, 192, 1), _Conv(192, 192, 3, padding=1), _Conv(192, 256, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class _Mixed7a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(_Conv(896, 256, 1), _Conv(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(_Conv(896, 256, 1), _Conv(256, 256, 3, stride=2))
        self.branch2 = nn.Sequential(_Conv(896, 256, 1), _Conv(256, 256, 3, padding=1), _Conv(256, 256, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionResnetV1(nn.Module):
    """The bare network: pre-whitened 3×160×160 in, L2-normalised 512-D out."""

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__()
        self.conv2d_1a = _Conv(3, 32, 3, stride=2)
        self.conv2d_2a = _Conv(32, 32, 3)
        self.conv2d_2b = _Conv(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = _Conv(64, 80, 1)
        self.conv2d_4a = _Conv(80, 192, 3)
        self.conv2d_4b = _Conv(192, 256, 3, stride=2)
        self.repeat_1 = nn.Sequential(*[_Block35(0.17) for _ in range(5)])
        self.mixed_6a = _Mixed6a()
        self.repeat_2 = nn.Sequential(*[_Block17(0.10) for _ in range(10)])
        self.mixed_7a = _Mixed7a()
        self.repeat_3 = nn.Sequential(*[_Block8(0.20) for _ in range(5)])
        self.block8 = _Block8(no_relu=True)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.6)
        self.last_linear = nn.Linear(1792, 512, bias=False)
        self.last_bn = nn.BatchNorm1d(512, eps=0.001, momentum=0.1)
        if num_classes is not None:  # only so that a checkpoint with a classifier loads strictly
            self.logits = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.conv2d_1a, self.conv2d_2a, self.conv2d_2b, self.maxpool_3a, self.conv2d_3b,
                      self.conv2d_4a, self.conv2d_4b, self.repeat_1, self.mixed_6a, self.repeat_2,
                      self.mixed_7a, self.repeat_3, self.block8, self.avgpool_1a):  # fmt: skip
            x = layer(x)
        x = self.last_bn(self.last_linear(self.dropout(x).flatten(1)))
        return F.normalize(x, p=2, dim=1)


def prewhiten(x: torch.Tensor) -> torch.Tensor:
    """facenet's per-image standardisation of a B×C×H×W batch of 0–255 values."""
    flat = x.flatten(1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, unbiased=False, keepdim=True)
    std = std.clamp(min=1.0 / flat.shape[1] ** 0.5)
    return ((flat - mean) / std).view_as(x)


class FacenetVGGFace2(FaceEmbedder):
    """facenet InceptionResnetV1 trained on VGGFace2 (Abello & Hirata's FR network), 512-D."""

    name = "facenet-vggface2"
    input_size = (160, 160)
    dim = 512
    distance = "euclidean"

    def __init__(self, weights: str | Path | None = None, *, allow_random: bool = False) -> None:
        super().__init__()
        self.weights_sha256: str | None = None
        if weights is None:
            if not allow_random:
                raise ModelError(WEIGHTS_HELP)
            self.net = InceptionResnetV1()
        else:
            path = Path(weights)
            if not path.is_file():
                raise ModelError(f"{path}: weights file not found. {WEIGHTS_HELP}")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as e:
                raise ModelError(f"{path}: not a loadable torch state dict ({e})") from None
            classes = state["logits.weight"].shape[0] if "logits.weight" in state else None
            self.net = InceptionResnetV1(num_classes=classes)
            try:
                self.net.load_state_dict(state, strict=True)
            except RuntimeError as e:
                raise ModelError(f"{path}: state dict does not fit InceptionResnetV1: {e}") from None
            self.weights_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.net.requires_grad_(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return prewhiten(x * 255.0)

    def embed_normalised(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
