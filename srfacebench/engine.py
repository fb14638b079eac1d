"""The engine: models × protocols × scales → embeddings → metrics → RunResult on disk.

For every protocol, the images are aligned once (cached), then streamed in shards: each shard's
HR chips are decoded once (DataLoader workers), degraded once per scale, super-resolved by every
model and embedded. Each (variant, shard) of embeddings is saved atomically under
``OUT/cache/embeddings/<key>/``, where the key hashes everything the numbers depend on, so a
second run computes nothing and a killed run resumes at the last finished shard.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import __version__
from .data.chips import ChipDataset, default_cache_dir, ensure_aligned
from .data.faceset import FaceSet
from .data.lfw import load_lfw_pairs
from .degrade import Degradation
from .errors import DataError, ModelError, SrfacebenchError
from .io import atomic_save_npy, atomic_write_text
from .metrics.verification import pair_distances, verification_metrics
from .protocols import Protocol, load_protocol
from .registry import HR, ModelRef, load_embedder, resolve_models
from .resolver import SuperResolver
from .results import MetricRow, RunResult

__all__ = ["evaluate", "load_dataset"]

SHARD = 512
CACHE_FORMAT = "1"


@dataclass
class _Variant:
    """One set of images to embed: HR, or a model's SR output at a scale."""

    model: str
    scale: int
    resolver: SuperResolver | None  # None for HR
    key: str = ""


def load_dataset(protocol: Protocol, data_root: Path, limit: int | None = None) -> FaceSet:
    ds = protocol.dataset
    root = data_root / ds.root
    if ds.loader == "lfw-pairs":
        if not root.is_dir():
            raise DataError(f"{root}: dataset folder of protocol {protocol.name!r} not found (check --data-root)")
        faceset = load_lfw_pairs(
            root, pairs_file=ds.pairs or "pairs.txt", images=ds.images, limit_per_fold=limit, name=ds.name
        )
    else:  # pragma: no cover - rejected when the protocol is parsed
        raise DataError(f"unknown dataset loader {ds.loader!r}")
    for fname, expected in ds.checksums.items():
        found = faceset.checksums.get(fname)
        if found is not None and found != expected:
            raise DataError(
                f"{root / fname}: SHA-256 {found} differs from the {expected} that protocol {protocol.name!r} expects"
            )
    return faceset


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _check_output(sr: torch.Tensor, lr: torch.Tensor, scale: int, name: str) -> torch.Tensor:
    expected = (lr.shape[0], 3, lr.shape[2] * scale, lr.shape[3] * scale)
    if not isinstance(sr, torch.Tensor):
        raise ModelError(f"model {name!r} returned {type(sr).__name__}, expected a torch.Tensor")
    if tuple(sr.shape) != expected:
        raise ModelError(f"model {name!r} at scale {scale} returned shape {tuple(sr.shape)}, expected {expected}")
    if not torch.isfinite(sr).all():
        raise ModelError(f"model {name!r} at scale {scale} returned NaN or infinite values")
    # SR outputs are clamped to [0, 1] (as SR papers do when saving images).
    return sr.float().clamp(0.0, 1.0)


class _Embedder:
    def __init__(self, name: str, device: str, **kwargs: Any) -> None:
        self.net = load_embedder(name, **kwargs).to(device).eval()
        self.info = self.net.describe()

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        return self.net(x).float().cpu().numpy()


def _embed_all(
    faceset: FaceSet,
    chip_root: Path,
    variants: list[_Variant],
    embedder: _Embedder,
    cache: Path,
    device: str,
    batch_size: int,
    workers: int,
    progress: bool,
    timings: dict[str, float],
) -> dict[str, np.ndarray]:
    n = len(faceset)
    shards = [list(range(s, min(s + SHARD, n))) for s in range(0, n, SHARD)]
    for v in variants:
        (cache / v.key).mkdir(parents=True, exist_ok=True)

    def shard_file(v: _Variant, k: int) -> Path:
        return cache / v.key / f"shard-{k:05d}.npy"

    todo_images = sum(len(s) for k, s in enumerate(shards) if any(not shard_file(v, k).is_file() for v in variants))
    bar = tqdm(total=todo_images, desc=f"embed {faceset.name}", unit="img", disable=not progress or todo_images == 0)
    degraders = {v.scale: Degradation(v.scale) for v in variants if v.resolver is not None}
    for k, shard in enumerate(shards):
        missing = [v for v in variants if not shard_file(v, k).is_file()]
        if not missing:
            continue
        loader = DataLoader(ChipDataset(chip_root, faceset.paths, shard), batch_size=batch_size, num_workers=workers)
        out: dict[str, list[np.ndarray]] = {v.key: [] for v in missing}
        for _, hr in loader:
            hr = hr.to(device)
            lr_by_scale = {s: d(hr) for s, d in degraders.items() if any(v.scale == s for v in missing)}
            for v in missing:
                t0 = time.perf_counter()
                if v.resolver is None:
                    img = hr
                else:
                    lr = lr_by_scale[v.scale]
                    try:
                        with torch.inference_mode():
                            sr = v.resolver(lr)
                    except SrfacebenchError:
                        raise
                    except Exception as e:
                        raise ModelError(f"model {v.model!r} raised at scale {v.scale}: {type(e).__name__}: {e}") from e
                    img = _check_output(sr, lr, v.scale, v.model)
                out[v.key].append(embedder(img))
                name = f"{v.model}@x{v.scale}"
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            bar.update(len(hr))
        for v in missing:
            atomic_save_npy(shard_file(v, k), np.concatenate(out[v.key]).astype(np.float32))
    bar.close()
    return {v.key: np.concatenate([np.load(shard_file(v, k)) for k in range(len(shards))]) for v in variants}


def _verification_rows(
    protocol: Protocol, faceset: FaceSet, variant: _Variant, emb: np.ndarray, embedder_name: str
) -> tuple[list[MetricRow], dict[str, Any], np.ndarray]:
    pairs = faceset.pairs
    assert pairs is not None
    dist = pair_distances(emb, pairs.a, pairs.b)
    res = verification_metrics(dist, pairs.same, pairs.fold)
    rows = [
        MetricRow(variant.model, variant.scale, protocol.name, faceset.name, embedder_name, m, v, s, res.n_pairs)
        for m, (v, s) in res.metrics().items()
    ]
    detail = {
        "model": variant.model,
        "scale": variant.scale,
        "protocol": protocol.name,
        "fold_accuracies": list(res.fold_accuracies),
        "fold_thresholds": list(res.fold_thresholds),
    }
    return rows, detail, dist


def _write_pairs_csv(
    path: Path, faceset: FaceSet, per_variant: list[tuple[_Variant, np.ndarray]], protocol: str
) -> None:
    pairs = faceset.pairs
    assert pairs is not None
    lines = ["protocol,model,scale,pair,fold,label,distance,image_a,image_b"]
    for v, dist in per_variant:
        for i in range(len(pairs)):
            lines.append(
                f"{protocol},{v.model},{v.scale},{i},{pairs.fold[i]},{int(pairs.same[i])},{float(dist[i])!r},"
                f"{faceset.paths[pairs.a[i]]},{faceset.paths[pairs.b[i]]}"
            )
    atomic_write_text(path, "\n".join(lines) + "\n")


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".srfacebench-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise SrfacebenchError(f"{out}: output folder is not writable ({e.strerror or e})") from None


def evaluate(
    models: Sequence[str],
    protocols: Sequence[str | Protocol],
    scales: Sequence[int],
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    embedder: str = "dlib-resnet29",
    embedder_kwargs: dict[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    protocols_dir: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Evaluate SR models on face-recognition protocols and write the results to ``out``.

    The HR (scale 1) and bicubic baselines are always included.

    Args:
        models: model specs (``bicubic``, ``adapters.mymodel``, ``pkg.mod:name``, an entry point).
        protocols: protocol names, ``.toml`` paths or :class:`Protocol` objects.
        scales: integer down-sampling factors, e.g. ``[4, 8]``.
        out: output folder (``results.csv``, ``results.json``, ``pairs.csv``, ``cache/``).
        data_root: folder the protocol datasets are relative to (default ``$SRFACEBENCH_DATA``).
        limit: for verification, the number of pairs kept per fold (a quick subset).

    Example:
        >>> result = evaluate(["bicubic"], ["lfw-verification"], [4], "out", data_root="data")  # doctest: +SKIP
    """
    import os

    t_start = time.perf_counter()
    out = Path(out)
    if not scales:
        raise SrfacebenchError("at least one --scale is needed")
    for s in scales:
        if not isinstance(s, int) or s < 2:
            raise SrfacebenchError(f"scale must be an integer >= 2, got {s!r}")
    specs = [load_protocol(p, protocols_dir) if not isinstance(p, Protocol) else p for p in protocols]
    refs: list[ModelRef] = []
    for m in ["bicubic", *models]:
        for ref in resolve_models(m):
            if not ref.is_hr and all(r.spec != ref.spec for r in refs):
                refs.append(ref)
    if data_root is None:
        env = os.environ.get("SRFACEBENCH_DATA")
        if not env:
            raise DataError("no --data-root given and $SRFACEBENCH_DATA is not set")
        data_root = env
    data_root = Path(data_root)
    _prepare_out(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    emb = _Embedder(embedder, device, **(embedder_kwargs or {}))
    result = RunResult()
    timings: dict[str, float] = {}
    checksums: dict[str, dict[str, str]] = {}
    align_counts: dict[str, dict[str, int]] = {}
    pairs_written = []
    for protocol in specs:
        faceset = load_dataset(protocol, data_root, limit)
        checksums[protocol.name] = faceset.checksums
        t0 = time.perf_counter()
        chip_root, counts = ensure_aligned(
            faceset, cache_dir, protocol.align_size, protocol.align_padding, progress=progress
        )
        timings[f"align:{protocol.name}"] = time.perf_counter() - t0
        align_counts[protocol.name] = counts
        base = {
            "format": CACHE_FORMAT,
            "faceset": faceset.fingerprint(),
            "chips": str(chip_root),
            "embedder": emb.info,
        }
        variants = [_Variant(HR, 1, None)]
        for scale in scales:
            for ref in refs:
                model = ref.load(scale, device)
                variants.append(_Variant(model.info.name, scale, model))
        names = [(v.model, v.scale) for v in variants]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ModelError(f"two models report the same ModelInfo.name at the same scale: {sorted(dupes)}")
        for v in variants:
            info = v.resolver.info.to_dict() if v.resolver is not None else {"name": HR}
            deg = Degradation(v.scale).describe() if v.resolver is not None else None
            v.key = _key({**base, "model": info, "scale": v.scale, "degradation": deg})
        t0 = time.perf_counter()
        embs = _embed_all(
            faceset,
            chip_root,
            variants,
            emb,
            out / "cache" / "embeddings",
            device,
            batch_size,
            workers,
            progress,
            timings,
        )
        timings[f"embed:{protocol.name}"] = time.perf_counter() - t0
        per_variant = []
        for v in variants:
            rows, detail, dist = _verification_rows(protocol, faceset, v, embs[v.key], emb.info["name"])
            result.rows.extend(rows)
            result.details.append(detail)
            per_variant.append((v, dist))
        name = "pairs.csv" if len(specs) == 1 else f"pairs-{protocol.name}.csv"
        _write_pairs_csv(out / name, faceset, per_variant, protocol.name)
        pairs_written.append(name)
    timings["total"] = time.perf_counter() - t_start
    result.provenance = {
        "package": "srfacebench",
        "version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "host": platform.node(),
        "cpu_threads": torch.get_num_threads(),
        "embedder": emb.info,
        "protocols": [p.to_dict() for p in specs],
        "models": [{"spec": r.spec, "origin": r.origin} for r in refs],
        "scales": list(scales),
        "degradation": Degradation(scales[0]).describe() | {"scale": "per row"},
        "data_root": str(data_root.resolve()),
        "data_checksums": checksums,
        "alignment": align_counts,
        "limit_pairs_per_fold": limit,
        "batch_size": batch_size,
        "timings_s": timings,
        "pairs_files": pairs_written,
        "conventions": {
            "verification": "threshold = best-accuracy midpoint on the other folds (ties: smallest); "
            "std over folds ddof=0; EER linearly interpolated on the ROC; TAR@FAR without interpolation",
            "sr_output": "clamped to [0, 1]",
        },
    }
    result.save(out)
    return result
