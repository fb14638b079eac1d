"""SRResNet (Ledig et al., 2017) with 10 residual blocks, as an ordinary srfacebench adapter.

Architecture (the paper's Fig. 1): 9×9 conv + PReLU; 10 × [3×3 conv, BN, PReLU, 3×3 conv, BN] +
skip; 3×3 conv + BN + global skip; log2(scale) × [3×3 conv to 4C, PixelShuffle ×2, PReLU]; 9×9
conv to RGB. Input and output RGB in [0, 1] (the output is not clamped here; srfacebench clamps).
Convolutions followed by BatchNorm have no bias: BatchNorm subtracts it again, so it only ever
receives rounding noise, which Adam would amplify into random drift.

Adapters: ``--model srfacebench.reference_models.srresnet`` runs both shipped variants, or
``srfacebench.reference_models.srresnet:vanilla`` / ``:fr`` one of them; the scale comes from ``--scale``.
Weights are safetensors files in ``srfacebench/reference_models/weights/`` named
``srresnet-{variant}-x{scale}.safetensors``; their SHA-256 goes into ``ModelInfo``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from torch import nn

from srfacebench.errors import ModelError
from srfacebench.resolver import ModelInfo

__all__ = ["MODELS", "SRResNet", "load_variant", "weights_path"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
CITATION = (
    "C. Ledig et al., Photo-Realistic Single Image Super-Resolution Using a GAN, CVPR 2017; "
    "A. A. Abello and R. Hirata Jr., Optimizing Super Resolution for Face Recognition, SIBGRAPI 2019"
)


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.PReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet for an integer power-of-two ``scale`` (2, 4, 8, ...)."""

    def __init__(self, scale: int = 4, channels: int = 64, blocks: int = 10) -> None:
        super().__init__()
        stages = round(math.log2(scale))
        if scale < 2 or 2**stages != scale:
            raise ValueError(f"SRResNet needs a power-of-two scale >= 2, got {scale}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*[_Residual(channels) for _ in range(blocks)])
        self.body_tail = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        up = []
        for _ in range(stages):
            up += [nn.Conv2d(channels, channels * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(lr)
        x = x + self.body_tail(self.body(x))
        return self.tail(self.upsample(x))


def weights_path(variant: str, scale: int) -> Path:
    return WEIGHTS_DIR / f"srresnet-{variant}-x{scale}.safetensors"


class _Resolver:
    def __init__(self, net: SRResNet, info: ModelInfo, device: str) -> None:
        self.net = net.to(device).eval()
        self.info = info

    @torch.inference_mode()
    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return self.net(lr)


def load_variant(variant: str, scale: int, device: str = "cpu", weights: str | Path | None = None) -> _Resolver:
    """Load a trained SRResNet (``variant`` = ``vanilla`` or ``fr``) at ``scale``."""
    from safetensors.torch import load_file

    path = Path(weights) if weights is not None else weights_path(variant, scale)
    if not path.is_file():
        raise ModelError(
            f"no SRResNet '{variant}' weights for scale {scale}: {path} is missing "
            f"(train them with `srfacebench train --scale {scale}`; see docs/reference_models.md)"
        )
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    try:
        trained_against = json.loads(meta.get("srfacebench", "{}")).get("trained_against_fr")
    except (ValueError, AttributeError):
        trained_against = None
    if variant == "fr" and trained_against is None:
        trained_against = "dlib-resnet29"  # the trainer's default FR network
    # the width and depth are read from the file (the shipped models: 64 channels, 10 blocks)
    channels = state["head.0.weight"].shape[0] if "head.0.weight" in state else 64
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.") and k.endswith(".body.0.weight")}) or 10
    net = SRResNet(scale, channels, blocks)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{path}: weights do not fit SRResNet x{scale}: {e}") from None
    info = ModelInfo(
        name=f"srresnet-{variant}",
        scales=(scale,),
        citation=CITATION,
        licence="BSD-3-Clause (weights trained on CelebA: non-commercial research only)",
        weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        trained_against_fr=trained_against,
    )
    return _Resolver(net, info, device)


def _loader(variant: str):
    def load(scale: int, device: str = "cpu", weights: str | None = None) -> _Resolver:
        """``weights``: a safetensors file to use instead of the shipped one."""
        return load_variant(variant, scale, device, weights)

    return load


MODELS = {"vanilla": _loader("vanilla"), "fr": _loader("fr")}
