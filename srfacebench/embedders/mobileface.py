"""MobileFace Identification V2 (MIT): a second, independent FR network, ported from MXNet.

The checkpoint ships inside the package (``weights/mobileface-v2/``, with its licence and
provenance) and is read by :mod:`srfacebench.embedders.mxnet_format`; its SHA-256 is checked on
every load. Input: 112×112 faces in the ArcFace five-point layout, BGR 0..255 (the graph itself
subtracts 127.5 and multiplies by 1/128). Output: 256-D ``fc5_bn``, compared by cosine.

**Layout.** srfacebench's chips are dlib chips (similarity-aligned on dlib's 5 landmarks, padding
0.25). :meth:`MobileFaceV2.forward` maps a chip to the ArcFace template with a similarity
transform, differentiably (``grid_sample``, bilinear):

- with ``landmarks`` (B×5×2: eye centres, nose tip, mouth corners in the chip's pixels, as
  :func:`srfacebench.data.landmarks.chip_landmarks` finds them), one transform per image, fitted
  by least squares (Umeyama) to the template, sampled bicubically — the five-point alignment;
- without, one fixed transform from :data:`DLIB_CHIP_FIVE_POINTS`, the mean positions of those
  five points in dlib chips (measured on 394 LFW chips; see ``docs/embedders.md``);
- a 112×112 input is taken as already in the template layout.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ModelError
from .base import FaceEmbedder
from .mxnet_format import MXNetGraph

__all__ = ["ARCFACE_TEMPLATE", "DLIB_CHIP_FIVE_POINTS", "MobileFaceV2", "similarity_transform", "warp_to_template"]

PREFIX = "MobileFace_Identification_V2"
SHA256 = {
    f"{PREFIX}-0000.params": "750057619a1eef8acb320339aebf0bbcf191497e1396a361c8aaba517bbe825e",
    f"{PREFIX}-symbol.json": "9d4f776ecb40772e3eb10338319e4a10a3cd68694dc6ef4e9042c8c4141e658f",
}

# The ArcFace / InsightFace 112×112 template: eye centres, nose tip, mouth corners (x, y).
ARCFACE_TEMPLATE = torch.tensor(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=torch.float64,
)
# Mean positions of the same five points in a 160-pixel dlib chip (padding 0.25), as fractions of
# the chip size: dlib's 68-point predictor on 394 LFW chips whose face dlib's detector found.
DLIB_CHIP_FIVE_POINTS = (
    torch.tensor(
        [[50.17, 49.14], [106.47, 49.19], [78.62, 80.63], [53.25, 111.42], [103.99, 111.5]], dtype=torch.float64
    )
    / 160.0
)


def similarity_transform(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity (Umeyama, no reflection) mapping points ``src`` → ``dst``.

    ``src``, ``dst``: (..., N, 2). Returns (..., 2, 3) matrices ``M`` with ``dst ≈ M @ [src; 1]``.
    """
    mu_s, mu_d = src.mean(-2, keepdim=True), dst.mean(-2, keepdim=True)
    s, d = src - mu_s, dst - mu_d
    cov = d.transpose(-1, -2) @ s / src.shape[-2]
    u, sig, vt = torch.linalg.svd(cov)
    det = torch.det(u @ vt)
    e = torch.ones_like(sig)
    e[..., 1] = torch.where(det < 0, -1.0, 1.0)
    r = u @ torch.diag_embed(e) @ vt
    var_s = (s**2).sum((-1, -2)) / src.shape[-2]
    scale = (sig * e).sum(-1) / var_s
    t = mu_d.squeeze(-2) - scale[..., None] * (r @ mu_s.transpose(-1, -2)).squeeze(-1)
    return torch.cat([scale[..., None, None] * r, t[..., :, None]], dim=-1)


def warp_to_template(x: torch.Tensor, landmarks: torch.Tensor, size: int = 112) -> torch.Tensor:
    """Warp B×C×H×W images so their five ``landmarks`` (B×5×2 pixels) land on the template."""
    landmarks = landmarks.to(torch.float64)
    m = similarity_transform(landmarks, ARCFACE_TEMPLATE.to(landmarks.device) * (size / 112.0))
    b, _, h, w = x.shape
    # invert: output pixel → input pixel
    a, t = m[..., :2], m[..., 2:]
    a_inv = torch.linalg.inv(a)
    t_inv = -a_inv @ t
    # grid_sample works in [-1, 1] with align_corners=False: pixel p ↔ (2p + 1) / n − 1
    ys, xs = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    out_pts = torch.stack([xs, ys], -1).reshape(1, -1, 2).to(landmarks.device)  # pixel centres at integer coords
    src = out_pts @ a_inv.transpose(-1, -2) + t_inv.transpose(-1, -2)
    grid = torch.stack([(2 * src[..., 0] + 1) / w - 1, (2 * src[..., 1] + 1) / h - 1], -1)
    grid = grid.reshape(b, size, size, 2).to(x.dtype)
    # bicubic sampling (measured on full LFW HR: 0.9838, against 0.9828 bilinear and 0.9817 with an
    # anti-aliased pre-shrink followed by bilinear), clamped: bicubic overshoots
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False).clamp(0.0, 1.0)


def _weights_dir() -> Path:
    return Path(str(resources.files("srfacebench.embedders") / "weights" / "mobileface-v2"))


class MobileFaceV2(FaceEmbedder):
    """MobileFace Identification V2, 256-D, cosine. ``weights_dir`` overrides the vendored files."""

    name = "mobileface-v2"
    input_size = (112, 112)
    dim = 256
    distance = "cosine"
    layout = "arcface-112-5pt"

    def __init__(self, weights_dir: str | Path | None = None, channel_order: str = "rgb", flip: bool = False) -> None:
        super().__init__()
        self.flip = flip if isinstance(flip, bool) else str(flip).lower() in ("1", "true", "yes")
        if channel_order not in ("rgb", "bgr"):
            raise ModelError(f"mobileface-v2: channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        self.channel_order = channel_order
        folder = Path(weights_dir) if weights_dir is not None else _weights_dir()
        for fname, expected in SHA256.items():
            path = folder / fname
            if not path.is_file():
                raise ModelError(f"{path}: MobileFace V2 checkpoint file not found")
            found = hashlib.sha256(path.read_bytes()).hexdigest()
            if found != expected:
                raise ModelError(f"{path}: SHA-256 {found} is not the published checkpoint's {expected}")
        self.weights_sha256 = hashlib.sha256("".join(SHA256.values()).encode()).hexdigest()
        self.graph = MXNetGraph(folder / f"{PREFIX}-symbol.json", folder / f"{PREFIX}-0000.params")

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flip(1) if self.channel_order == "bgr" else x
        return x * 255.0  # 0..255; the graph normalises itself

    def embed_normalised(self, x: torch.Tensor) -> torch.Tensor:
        out = self.graph(x)
        if self.flip:  # the authors' LFW evaluation: a face and its mirror image, embeddings summed
            out = out + self.graph(x.flip(-1))
        return out

    def forward(self, x: torch.Tensor, landmarks: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.name}: expected a B×3×H×W RGB batch, got shape {tuple(x.shape)}")
        if landmarks is not None:
            x = warp_to_template(x, landmarks)
        elif tuple(x.shape[-2:]) != self.input_size:
            h, w = x.shape[-2:]
            pts = DLIB_CHIP_FIVE_POINTS.to(x.device) * torch.tensor([w, h], dtype=torch.float64, device=x.device)
            x = warp_to_template(x, pts.expand(x.shape[0], 5, 2))
        return self.embed_normalised(self.normalise(x))

    def describe(self) -> dict[str, object]:
        return super().describe() | {
            "layout": self.layout,
            "channel_order": self.channel_order,
            # everything the warp does is part of the identity (cache keys, provenance)
            "warp": {
                "fit": "similarity (Umeyama) to the 5-point template",
                "shrink": "antialiased bicubic",
                "sample": "bilinear",
                "outside": "zeros",
                "no_landmarks": "DLIB_CHIP_FIVE_POINTS",
            },
            "flip": self.flip,
            # folded BatchNorms give the same function, rounded differently (~1e-7 of the norm):
            # a cache made either way is kept apart from the other
            "batchnorm_eval": "folded into the preceding layer" if self.graph.fold_batchnorm else "as written",
            "source": "becauseofAI/MobileFace@128cea33 (MIT)",
        }
