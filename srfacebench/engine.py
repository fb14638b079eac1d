"""The engine: models × protocols × scales → embeddings → metrics → RunResult on disk.

Protocols that read the same image folder form one *pool*: its images are aligned once (cached),
then streamed (:mod:`srfacebench.streaming`) in shards through degradation, every model and the
embedder. Shards are saved atomically under ``OUT/cache/embeddings/<key>/``, where the key hashes
everything the numbers depend on (pool image list, chips, embedder, model info, degradation), so
a repeat run computes nothing and a killed run resumes at the last finished shard. Each
protocol is then scored from the pool's arrays (:mod:`srfacebench.tasks`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from . import __version__
from .data.chips import ChipDataset, default_cache_dir, ensure_aligned
from .data.faceset import FaceSet
from .data.identity import load_celeba, load_identity_folder
from .data.lfw import load_lfw_pairs
from .degrade import Degradation
from .errors import DataError, ModelError, ProtocolError, SrfacebenchError
from .io import atomic_write_bytes, atomic_write_text, png_bytes
from .protocols import Protocol, load_protocol
from .registry import HR, ModelRef, load_embedder, python_model_ref, resolve_models
from .results import RunResult
from .streaming import Embedder, Variant, stream_pool, super_resolve
from .tasks import IMAGES_HEADER, PAIRS_HEADER, PROBES_HEADER, csv_text, score_task

__all__ = ["evaluate", "load_dataset"]

CACHE_FORMAT = "2"


def load_dataset(protocol: Protocol, data_root: Path, limit: int | None = None) -> FaceSet:
    """The FaceSet a protocol names, read with its loader and checked against its checksums."""
    ds = protocol.dataset
    root = data_root / ds.root
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder of protocol {protocol.name!r} not found (check --data-root)")
    opts = dict(ds.options)
    if ds.loader == "lfw-pairs":
        faceset = load_lfw_pairs(
            root,
            pairs_file=opts.get("pairs", "pairs.txt"),
            images=opts.get("images", "lfw-deepfunneled"),
            limit_per_fold=limit,
            name=ds.name,
        )
    elif ds.loader == "celeba":
        faceset = load_celeba(root, name=ds.name, **opts)
    elif ds.loader == "identity-folder":
        faceset = load_identity_folder(root, name=ds.name, **opts)
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


@dataclass
class _Pool:
    """The images of all protocols that read the same folder with the same alignment."""

    root: Path
    size: int
    padding: float
    paths: list[str] = field(default_factory=list)
    where: dict[str, int] = field(default_factory=dict)
    tasks: list[tuple[Protocol, FaceSet, np.ndarray]] = field(default_factory=list)

    def add(self, protocol: Protocol, faceset: FaceSet) -> None:
        for p in faceset.paths:
            if p not in self.where:
                self.where[p] = len(self.paths)
                self.paths.append(p)
        self.tasks.append((protocol, faceset, np.array([self.where[p] for p in faceset.paths], dtype=np.int64)))

    @property
    def name(self) -> str:
        return "+".join(dict.fromkeys(fs.name for _, fs, _ in self.tasks))

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.paths).encode()).hexdigest()


N_SAMPLES = 4


def _write_samples(out: Path, chip_root: Path, paths: list[str], variants: list[Variant], device: str) -> None:
    """PNG faces of the first ``N_SAMPLES`` pool images: HR, LR per scale, each SR (for reports)."""
    folder = out / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    picks = list(range(min(N_SAMPLES, len(paths))))
    hr = torch.stack([ChipDataset(chip_root, paths)[i][1] for i in picks]).to(device)
    entries = []

    def save(img: torch.Tensor, name: str, **meta: Any) -> None:
        arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        atomic_write_bytes(folder / name, png_bytes(arr))
        entries.append({"file": name, **meta})

    for j, i in enumerate(picks):
        save(hr[j], f"hr-{j}.png", model=HR, scale=1, kind="hr", image=paths[i])
    for scale in sorted({v.scale for v in variants if not v.is_hr}):
        lr = Degradation(scale)(hr)
        for j, i in enumerate(picks):
            save(lr[j], f"lr-x{scale}-{j}.png", model="lr", scale=scale, kind="lr", image=paths[i])
            for k, v in enumerate(w for w in variants if w.scale == scale):
                sr = super_resolve(v, lr[j : j + 1])
                save(sr[0], f"sr-x{scale}-m{k}-{j}.png", model=v.model, scale=scale, kind="sr", image=paths[i])
    # The HR chips appear in the grid of every scale.
    scales = sorted({v.scale for v in variants if not v.is_hr})
    manifest = [e | {"scale": s} for e in entries if e["kind"] == "hr" for s in scales]
    manifest += [e for e in entries if e["kind"] != "hr"]
    atomic_write_text(folder / "samples.json", json.dumps({"entries": manifest}, indent=1))


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".srfacebench-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise SrfacebenchError(f"{out}: output folder is not writable ({e.strerror or e})") from None


def evaluate(
    models: Sequence[str | Any],
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
    report: bool = True,
    n_boot: int = 1000,
) -> RunResult:
    """Evaluate SR models on face-recognition protocols and write the results to ``out``.

    The HR (scale 1) and bicubic baselines are always included. Protocols that read the same
    image folder share one pool: each image is aligned, super-resolved and embedded once.

    Args:
        models: model specs (``bicubic``, ``adapters.mymodel``, ``pkg.mod:name``, an entry point),
            or Python objects: a SuperResolver (used at every scale) or a loader
            ``(scale, device) -> SuperResolver``.
        protocols: protocol names, ``.toml`` paths or :class:`Protocol` objects.
        scales: integer down-sampling factors, e.g. ``[4, 8]``.
        out: output folder: ``results.csv``, ``results.json``, ``pairs.csv`` (verification),
            ``probes.csv`` (identification), ``images.csv`` (per-image PSNR/SSIM/FR loss), ``cache/``.
        data_root: folder the protocol datasets are relative to (default ``$SRFACEBENCH_DATA``).
        limit: for verification protocols, the number of pairs kept per fold (a quick subset).
        report: also write ``report.html`` (bootstrap intervals with ``n_boot`` resamples).

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
    if len({p.name for p in specs}) != len(specs):
        raise ProtocolError(f"a protocol is named twice: {[p.name for p in specs]}")
    refs: list[ModelRef] = []
    for m in ["bicubic", *models]:
        for ref in resolve_models(m) if isinstance(m, str) else [python_model_ref(m)]:
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
    emb = Embedder(load_embedder(embedder, **(embedder_kwargs or {})), device)
    variants = [Variant(HR, 1, None)]
    for scale in scales:
        for ref in refs:
            model = ref.load(scale, device)
            variants.append(Variant(model.info.name, scale, model))
    names = [(v.model, v.scale) for v in variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ModelError(f"two models report the same ModelInfo.name at the same scale: {dupes}")

    pools: dict[tuple[str, int, float], _Pool] = {}
    checksums: dict[str, dict[str, str]] = {}
    for protocol in specs:
        faceset = load_dataset(protocol, data_root, limit if protocol.task == "verification" else None)
        checksums[protocol.name] = faceset.checksums
        key = (str(Path(faceset.root).resolve()), protocol.align_size, protocol.align_padding)
        pools.setdefault(key, _Pool(Path(faceset.root), protocol.align_size, protocol.align_padding)).add(
            protocol, faceset
        )

    result = RunResult()
    timings: dict[str, float] = {}
    align_counts: dict[str, dict[str, int]] = {}
    pairs_rows: list[list[Any]] = []
    probe_rows: list[list[Any]] = []
    image_rows: list[list[Any]] = []
    samples_written = False
    for pool in pools.values():
        pool_set = FaceSet(pool.name, pool.root, pool.paths, np.zeros(len(pool.paths), np.int64), [])
        t0 = time.perf_counter()
        chip_root, counts = ensure_aligned(pool_set, cache_dir, pool.size, pool.padding, progress=progress)
        timings[f"align:{pool.name}"] = time.perf_counter() - t0
        align_counts[pool.name] = counts
        base = {"format": CACHE_FORMAT, "pool": pool.fingerprint(), "chips": str(chip_root), "embedder": emb.info}
        for v in variants:
            info = v.resolver.info.to_dict() if v.resolver is not None else {"name": HR}
            deg = Degradation(v.scale).describe() if v.resolver is not None else None
            v.key = _key({**base, "model": info, "scale": v.scale, "degradation": deg})
        t0 = time.perf_counter()
        bar = tqdm(desc=f"embed {pool.name}", unit="img", disable=not progress)
        try:
            embs, iqs = stream_pool(
                chip_root, pool.paths, variants, emb, out / "cache" / "embeddings",
                device=device, batch_size=batch_size, workers=workers, progress=bar, timings=timings,
            )  # fmt: skip
        finally:
            bar.close()
        timings[f"embed:{pool.name}"] = time.perf_counter() - t0
        if not samples_written:
            _write_samples(out, chip_root, pool.paths, variants, device)
            samples_written = True
        for protocol, faceset, index in pool.tasks:
            task = score_task(protocol, faceset, index, variants, embs, iqs, emb.info["name"])
            result.rows.extend(task.rows)
            result.details.extend(task.details)
            pairs_rows += task.pairs
            probe_rows += task.probes
            image_rows += task.images
    written = []
    for name, header, rows in (
        ("pairs.csv", PAIRS_HEADER, pairs_rows),
        ("probes.csv", PROBES_HEADER, probe_rows),
        ("images.csv", IMAGES_HEADER, image_rows),
    ):
        if rows:
            atomic_write_text(out / name, csv_text(header, rows))
            written.append(name)
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
        "degradation": {"kind": Degradation(scales[0]).kind, "clamp": [0.0, 1.0]},
        "data_root": str(data_root.resolve()),
        "data_checksums": checksums,
        "alignment": align_counts,
        "limit_pairs_per_fold": limit,
        "batch_size": batch_size,
        "workers": workers,
        "timings_s": timings,
        "files": written,
        "conventions": {
            "verification": "threshold = best-accuracy midpoint on the other folds (ties: smallest); "
            "std over folds ddof=0; EER linearly interpolated on the ROC; TAR@FAR without interpolation",
            "identification": "leave-one-out kNN (FAISS L2), self excluded by index; majority vote, ties to the "
            "label ranked first; rank = first same-identity neighbour; FNIR@FPIR with a seeded half/half "
            "enrolled split, first image of each enrolled identity in the gallery",
            "intrinsic": "PSNR/SSIM on BT.601 Y in float64, crop border = scale, SSIM 11x11 Gaussian sigma 1.5 "
            "valid region; mean and std (ddof=0) over images; not reported for HR (PSNR would be inf)",
            "sr_output": "clamped to [0, 1]",
        },
    }
    result.save(out)
    if report:
        from .report import build_report

        t0 = time.perf_counter()
        build_report([out], out / "report.html", n_boot=n_boot)
        result.provenance["timings_s"]["report"] = time.perf_counter() - t0
        result.save(out)
    return result
