"""Streaming HR → degrade → SR → (embedding, PSNR-Y, SSIM-Y) over an image pool, in cached shards.

The images stream through one DataLoader (decoding in worker processes). Each shard of
``SHARD`` images is decoded once, degraded once per scale, super-resolved by every model and
embedded; for SR variants the per-image PSNR/SSIM on Y (crop border = scale) are computed against
the HR chip. Every (variant, shard) is saved atomically as ``shard-NNNNN.npy`` (embeddings) and,
written first, ``shard-NNNNN.iq.npy`` (PSNR, SSIM), so a killed run resumes at the last
complete shard and a finished one is never recomputed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .data.chips import ChipDataset
from .degrade import Degradation
from .errors import ModelError, SrfacebenchError
from .io import atomic_save_npy
from .metrics.image import psnr_ssim_y
from .resolver import SuperResolver

__all__ = ["SHARD", "Embedder", "Variant", "check_sr_output", "stream_pool", "super_resolve"]

SHARD = 512


@dataclass
class Variant:
    """One set of images to embed: HR (``resolver`` None, scale 1) or a model's SR at a scale."""

    model: str
    scale: int
    resolver: SuperResolver | None
    key: str = ""

    @property
    def is_hr(self) -> bool:
        return self.resolver is None


class Embedder:
    """An eval-mode FaceEmbedder on a device, returning numpy float32."""

    def __init__(self, net: torch.nn.Module, device: str) -> None:
        self.net = net.to(device).eval()
        self.info: dict[str, Any] = net.describe()

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        return self.net(x).float().cpu().numpy()


def check_sr_output(sr: object, lr: torch.Tensor, scale: int, name: str) -> torch.Tensor:
    """Validate a model's output (type, shape, finiteness) and clamp it to [0, 1]."""
    expected = (lr.shape[0], 3, lr.shape[2] * scale, lr.shape[3] * scale)
    if not isinstance(sr, torch.Tensor):
        raise ModelError(f"model {name!r} returned {type(sr).__name__}, expected a torch.Tensor")
    if tuple(sr.shape) != expected:
        raise ModelError(f"model {name!r} at scale {scale} returned shape {tuple(sr.shape)}, expected {expected}")
    if not torch.isfinite(sr).all():
        raise ModelError(f"model {name!r} at scale {scale} returned NaN or infinite values")
    return sr.float().clamp(0.0, 1.0)


def super_resolve(v: Variant, lr: torch.Tensor) -> torch.Tensor:
    """Run a variant's model on a batch, naming the model in any failure; output clamped."""
    assert v.resolver is not None
    try:
        with torch.inference_mode():
            sr = v.resolver(lr)
    except SrfacebenchError:
        raise
    except Exception as e:
        raise ModelError(f"model {v.model!r} raised at scale {v.scale}: {type(e).__name__}: {e}") from e
    return check_sr_output(sr, lr, v.scale, v.model)


def stream_pool(
    chip_root: Path,
    paths: list[str],
    variants: list[Variant],
    embedder: Embedder,
    cache: Path,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    progress: Any = None,
    timings: dict[str, float] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Embeddings (N×d) and image-quality arrays (N×2: PSNR-Y, SSIM-Y; NaN for HR) per variant key."""
    timings = timings if timings is not None else {}
    n = len(paths)
    shards = [list(range(s, min(s + SHARD, n))) for s in range(0, n, SHARD)]
    for v in variants:
        (cache / v.key).mkdir(parents=True, exist_ok=True)

    def emb_file(v: Variant, k: int) -> Path:
        return cache / v.key / f"shard-{k:05d}.npy"

    def iq_file(v: Variant, k: int) -> Path:
        return cache / v.key / f"shard-{k:05d}.iq.npy"

    missing = {
        k: [v for v in variants if not (emb_file(v, k).is_file() and iq_file(v, k).is_file())]
        for k in range(len(shards))
    }
    todo = [k for k in range(len(shards)) if missing[k]]
    batches = [(k, shards[k][j : j + batch_size]) for k in todo for j in range(0, len(shards[k]), batch_size)]
    if progress is not None:
        progress.reset(total=sum(len(shards[k]) for k in todo))
    degraders = {v.scale: Degradation(v.scale) for v in variants if not v.is_hr}
    loader = DataLoader(
        ChipDataset(chip_root, paths),
        batch_sampler=[b for _, b in batches],
        num_workers=workers,
        persistent_workers=False,
    )
    emb_acc: dict[str, list[np.ndarray]] = {}
    iq_acc: dict[str, list[np.ndarray]] = {}
    for (k, idxs), (_, hr) in zip(batches, loader, strict=True):
        hr = hr.to(device)
        wanted = missing[k]
        lrs = {s: d(hr) for s, d in degraders.items() if any(v.scale == s for v in wanted)}
        for v in wanted:
            t0 = time.perf_counter()
            if v.is_hr:
                img = hr
                iq = np.full((len(hr), 2), np.nan)
            else:
                img = super_resolve(v, lrs[v.scale])
                iq = torch.stack(psnr_ssim_y(img, hr, v.scale), 1).cpu().numpy()
            emb_acc.setdefault(v.key, []).append(embedder(img))
            iq_acc.setdefault(v.key, []).append(iq)
            name = f"{v.model}@x{v.scale}"
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        if progress is not None:
            progress.update(len(idxs))
        if idxs[-1] == shards[k][-1]:  # shard complete: save it
            for v in wanted:
                atomic_save_npy(iq_file(v, k), np.concatenate(iq_acc.pop(v.key)))
                atomic_save_npy(emb_file(v, k), np.concatenate(emb_acc.pop(v.key)).astype(np.float32))
    embs, iqs = {}, {}
    for v in variants:
        embs[v.key] = np.concatenate([np.load(emb_file(v, k)) for k in range(len(shards))])
        iqs[v.key] = np.concatenate([np.load(iq_file(v, k)) for k in range(len(shards))])
    return embs, iqs
