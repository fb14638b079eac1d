"""Streaming HR → degrade → SR → (embeddings by every FR network, PSNR-Y, SSIM-Y), in cached shards.

The images of a pool stream through one DataLoader (decoding in worker processes). Each shard of
``SHARD`` images is decoded once, degraded once per degradation, super-resolved once per
(model, degradation) and each output embedded by every FR network: the cost grows with the work,
not with the number of axes. For SR variants the per-image PSNR/SSIM on Y (crop border = scale)
are computed against the HR chip. Every (variant, network, shard) is saved atomically as
``embeddings/<key>/shard-NNNNN.npy`` and every (variant, shard) as ``iq/<key>/shard-NNNNN.npy``,
so a killed run resumes at the last complete shard and finished work is never recomputed.

Each model gets its own copy of the LR batch, so a model that edits its input in place cannot
change what the next model sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .conformance import check_output
from .data.chips import ChipDataset
from .degradations import Degradation
from .errors import ModelError, SrfacebenchError
from .io import atomic_save_npy
from .metrics.image import psnr_ssim_y
from .resolver import SuperResolver

__all__ = [
    "SHARD",
    "Embedder",
    "PoolStream",
    "StreamCounts",
    "Todo",
    "Variant",
    "check_sr_output",
    "stream_pool",
    "super_resolve",
]

SHARD = 512


@dataclass(frozen=True)
class Variant:
    """One set of faces: HR (``resolver`` None, scale 1, degradation ``"none"``) or a model's SR
    output under one degradation. Its identity is (model, degradation); it never changes."""

    model: str
    degradation: str
    scale: int
    resolver: SuperResolver | None = field(default=None, compare=False, repr=False)

    @property
    def is_hr(self) -> bool:
        return self.resolver is None

    @property
    def id(self) -> str:
        return f"{self.model}|{self.degradation}"


class Embedder:
    """An eval-mode FaceEmbedder on a device, returning numpy float32.

    A network with a ``layout`` of its own (e.g. MobileFace's five-point template) is given the
    pool's per-image ``landmarks`` (N×5×2 chip pixels) and maps each chip to its layout itself.
    """

    def __init__(self, net: torch.nn.Module, device: str, landmarks: np.ndarray | None = None) -> None:
        self.net = net.to(device).eval()
        self.info: dict[str, Any] = net.describe()
        self.name: str = str(self.info["name"])
        self.distance: str = str(self.info.get("distance", "euclidean"))
        self.device = device
        self.landmarks = landmarks

    @property
    def layout(self) -> str | None:
        return getattr(self.net, "layout", None)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, pool_indices: list[int] | None = None) -> np.ndarray:
        """Embeddings of ``x``. The network gets its own copy, as models do: one that edits its
        input in place cannot move PSNR/SSIM or another FR network's numbers."""
        if self.landmarks is not None and pool_indices is not None:
            lm = torch.from_numpy(self.landmarks[pool_indices]).to(self.device)
            return self.net(x.clone(), landmarks=lm).float().cpu().numpy()
        return self.net(x.clone()).float().cpu().numpy()


@dataclass
class StreamCounts:
    """How much work a stream did (for tests and provenance)."""

    decoded: int = 0
    degraded: dict[str, int] = field(default_factory=dict)
    super_resolved: dict[str, int] = field(default_factory=dict)
    embedded: dict[str, int] = field(default_factory=dict)
    clamped: dict[str, int] = field(default_factory=dict)

    def add(self, other: StreamCounts) -> None:
        """Add ``other``'s counts to these (e.g. every rank's into rank 0's)."""
        self.decoded += other.decoded
        for name in ("degraded", "super_resolved", "embedded", "clamped"):
            mine = getattr(self, name)
            for k, v in getattr(other, name).items():
                mine[k] = mine.get(k, 0) + v


def check_sr_output(sr: object, lr: torch.Tensor, scale: int, name: str) -> torch.Tensor:
    """Validate a model's output batch by the conformance rules (:func:`conformance.check_output`:
    type, shape, finiteness; values more than 0.25 outside [0, 1] are an error, e.g. 0..255) and
    clamp it to [0, 1]."""
    check_output(sr, lr, scale, name)
    assert isinstance(sr, torch.Tensor)
    return sr.float().clamp(0.0, 1.0)


def super_resolve(v: Variant, lr: torch.Tensor, counts: StreamCounts | None = None) -> torch.Tensor:
    """Run a variant's model on its own copy of a batch, naming the model in any failure; output clamped."""
    assert v.resolver is not None
    try:
        with torch.inference_mode():
            sr = v.resolver(lr.clone())
    except SrfacebenchError:
        raise
    except Exception as e:
        raise ModelError(f"model {v.model!r} raised under {v.degradation}: {type(e).__name__}: {e}") from e
    if counts is not None and isinstance(sr, torch.Tensor) and sr.is_floating_point():
        counts.clamped[v.id] = counts.clamped.get(v.id, 0) + int(((sr < 0) | (sr > 1)).sum())
    return check_sr_output(sr, lr, v.scale, v.model)


Todo = dict[int, dict[str, tuple[list[str], bool]]]
"""Per shard index, per variant id: the FR networks still to run and whether PSNR/SSIM is still to do."""


@dataclass
class PoolStream:
    """One pool's images and the work on them, cached in shards of :data:`SHARD` images.

    ``chip_names[i]`` is the chip (under ``chip_root``) of pool image ``paths[i]``; the paths seed
    per-image noise. ``emb_keys``/``iq_keys`` name the cache folders under ``cache`` (made by the
    plan from everything the numbers depend on). :meth:`missing` lists what is not cached,
    :meth:`compute` does any subset of it (so ranks can share it), :meth:`load` reads it all.
    """

    chip_root: Path
    chip_names: list[str]
    paths: list[str]
    variants: list[Variant]
    degradations: dict[str, Degradation]
    embedders: dict[str, Embedder]
    emb_keys: dict[tuple[str, str], str]
    iq_keys: dict[str, str]
    cache: Path
    device: str = "cpu"
    batch_size: int = 64
    workers: int = 0

    @cached_property
    def by_id(self) -> dict[str, Variant]:
        return {v.id: v for v in self.variants}

    @property
    def shards(self) -> list[list[int]]:
        n = len(self.paths)
        return [list(range(s, min(s + SHARD, n))) for s in range(0, n, SHARD)]

    def emb_file(self, v: Variant, e: str, k: int) -> Path:
        return self.cache / "embeddings" / self.emb_keys[(v.id, e)] / f"shard-{k:05d}.npy"

    def iq_file(self, v: Variant, k: int) -> Path:
        return self.cache / "iq" / self.iq_keys[v.id] / f"shard-{k:05d}.npy"

    def missing(self) -> Todo:
        """What no finished shard file holds yet."""
        out: Todo = {}
        for k in range(len(self.shards)):
            for v in self.variants:
                todo_e = [e for e in self.embedders if not self.emb_file(v, e, k).is_file()]
                todo_iq = not v.is_hr and not self.iq_file(v, k).is_file()
                if todo_e or todo_iq:
                    out.setdefault(k, {})[v.id] = (todo_e, todo_iq)
        return out

    def compute(
        self,
        todo: Todo,
        *,
        progress: Any = None,
        timings: dict[str, float] | None = None,
        counts: StreamCounts | None = None,
    ) -> None:
        """Compute and save (atomically, shard by shard) the work in ``todo``."""
        timings = timings if timings is not None else {}
        counts = counts if counts is not None else StreamCounts()
        shards = self.shards
        for v in self.variants:
            for e in self.embedders:
                self.emb_file(v, e, 0).parent.mkdir(parents=True, exist_ok=True)
            if not v.is_hr:
                self.iq_file(v, 0).parent.mkdir(parents=True, exist_ok=True)
        bs = self.batch_size
        batches = [(k, shards[k][j : j + bs]) for k in sorted(todo) for j in range(0, len(shards[k]), bs)]
        if progress is not None:
            progress.reset(total=sum(len(shards[k]) for k in todo))
        loader = DataLoader(
            ChipDataset(self.chip_root, self.chip_names),
            batch_sampler=[b for _, b in batches],
            num_workers=self.workers,
            persistent_workers=False,
        )
        emb_acc: dict[tuple[str, str], list[np.ndarray]] = {}
        iq_acc: dict[str, list[np.ndarray]] = {}
        for (k, idxs), (_, hr) in zip(batches, loader, strict=True):
            counts.decoded += len(idxs)
            self._batch(hr.to(self.device), idxs, todo[k], emb_acc, iq_acc, timings, counts)
            if progress is not None:
                progress.update(len(idxs))
            if idxs[-1] == shards[k][-1]:  # shard complete: save it
                self._save(k, todo[k], emb_acc, iq_acc)

    def _batch(
        self,
        hr: torch.Tensor,
        idxs: list[int],
        wanted: dict[str, tuple[list[str], bool]],
        emb_acc: dict[tuple[str, str], list[np.ndarray]],
        iq_acc: dict[str, list[np.ndarray]],
        timings: dict[str, float],
        counts: StreamCounts,
    ) -> None:
        keys = [self.paths[i] for i in idxs]
        lrs: dict[str, torch.Tensor] = {}
        for vid, (todo_e, todo_iq) in wanted.items():
            v = self.by_id[vid]
            t0 = time.perf_counter()
            if v.is_hr:
                img = hr
            else:
                if v.degradation not in lrs:
                    lrs[v.degradation] = self.degradations[v.degradation](hr, keys)
                    counts.degraded[v.degradation] = counts.degraded.get(v.degradation, 0) + len(idxs)
                img = super_resolve(v, lrs[v.degradation], counts)
                counts.super_resolved[vid] = counts.super_resolved.get(vid, 0) + len(idxs)
                if todo_iq:
                    iq_acc.setdefault(vid, []).append(torch.stack(psnr_ssim_y(img, hr, v.scale), 1).cpu().numpy())
            for e in todo_e:
                emb_acc.setdefault((vid, e), []).append(self.embedders[e](img, idxs))
                counts.embedded[f"{vid}|{e}"] = counts.embedded.get(f"{vid}|{e}", 0) + len(idxs)
            name = f"{v.model}@{v.degradation}"
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

    def _save(
        self,
        k: int,
        wanted: dict[str, tuple[list[str], bool]],
        emb_acc: dict[tuple[str, str], list[np.ndarray]],
        iq_acc: dict[str, list[np.ndarray]],
    ) -> None:
        for vid, (todo_e, todo_iq) in wanted.items():
            v = self.by_id[vid]
            if todo_iq:
                atomic_save_npy(self.iq_file(v, k), np.concatenate(iq_acc.pop(vid)))
            for e in todo_e:
                atomic_save_npy(self.emb_file(v, e, k), np.concatenate(emb_acc.pop((vid, e))).astype(np.float32))

    def load(self) -> tuple[dict[tuple[str, str], np.ndarray], dict[str, np.ndarray]]:
        """Embeddings (N×d) per (variant id, FR network) and PSNR-Y/SSIM-Y (N×2) per SR variant id,
        from the shard files (every one must exist)."""
        n = len(self.shards)
        embs: dict[tuple[str, str], np.ndarray] = {}
        iqs: dict[str, np.ndarray] = {}
        for v in self.variants:
            for e in self.embedders:
                embs[(v.id, e)] = np.concatenate([np.load(self.emb_file(v, e, k)) for k in range(n)])
            if not v.is_hr:
                iqs[v.id] = np.concatenate([np.load(self.iq_file(v, k)) for k in range(n)])
        return embs, iqs


def stream_pool(
    stream: PoolStream,
    *,
    progress: Any = None,
    timings: dict[str, float] | None = None,
    counts: StreamCounts | None = None,
) -> tuple[dict[tuple[str, str], np.ndarray], dict[str, np.ndarray]]:
    """In one process: compute whatever ``stream`` has not cached, then load it all
    (:meth:`PoolStream.load`)."""
    stream.compute(stream.missing(), progress=progress, timings=timings, counts=counts)
    return stream.load()
