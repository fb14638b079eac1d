"""Identity by behaviour: what a model or FR network *does* on a fixed input, checked before any
cached result of it is reused.

A cache folder's key holds what a plug-in *declares* (``ModelInfo``, weights and code digests,
its bound arguments). Declarations miss things: a network inside a plain object, behaviour set in
an adapter's ``load()``, a weights file overwritten in place, an FR network whose ``describe()``
did not change with its code. So every cache folder also stores the *fingerprint* of what made
it — the SR model's output on a seeded 1×3×8×8 LR input, the FR network's embeddings of two face
chips shipped in the package (with fixed landmarks for networks that warp) — and before its shards
are used the fingerprint is recomputed and compared:

- equal within the tolerance (half a grey level for SR output; 1e-3 of the largest embedding
  component for FR networks — far above cross-machine float32 noise, ~1e-6, and far below any
  change of weights or code that touches the probe) → the shards are reused;
- different, or missing (a folder made before fingerprints existed) → the folder is set aside as
  ``<key>.stale-<n>`` and recomputed, and the run's notes say so.

What it cannot catch: a change that does not alter the output on the probe input (e.g. a branch
taken only for large images, or only for faces). What it costs: one SR forward on 8×8 per model
and scale, one FR forward on two chips per network, per run (measured on 2 CPU cores: bicubic 8 ms,
SPAN 19 ms, UpscalerJS-thick x8 43 ms, Real-ESRGAN 0.43 s; dlib 39 ms, MobileFace 26 ms; see
docs/identity.md).

:func:`args_identity` puts a model's bound ``--model-args`` in its cache key, with a file's
content hash instead of its path (a directory: its files' names, sizes and modification times).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .io import atomic_write_bytes, sha256_file

__all__ = ["FR_TOL", "SR_TOL", "args_identity", "prune_stale", "sr_fingerprint", "verify_cache_folder"]

SR_TOL = 0.5 / 255
FR_TOL = 1e-3  # relative to the largest |component| of the stored embeddings
FILE = "fingerprint.npz"

# two LFW faces of the demo sample, and five landmarks of a typical 160-px chip (padding 0.25):
# eyes, nose tip, mouth corners, in chip pixels (x, y)
_CHIPS = ("Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Abdullah_Gul/Abdullah_Gul_0001.jpg")
_LANDMARKS = np.array([[57.0, 66.0], [103.0, 66.0], [80.0, 92.0], [62.0, 117.0], [98.0, 117.0]], np.float32)


def sr_fingerprint(model: Any, scale: int, device: str = "cpu") -> np.ndarray:
    """The model's output on a seeded 1×3×8×8 LR image (float32, 3×8s×8s)."""
    lr = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(20261202)).to(device)
    with torch.inference_mode():
        out = model(lr.clone())
    return out.detach().float().cpu().numpy()[0]


def _probe_chips(size: int = 160) -> torch.Tensor:
    from PIL import Image

    root = Path(__file__).parent / "demo_data" / "lfw" / "lfw-deepfunneled"
    imgs = []
    for rel in _CHIPS:
        with Image.open(root / rel) as im:
            im = im.convert("RGB")
            w, h = im.size
            box = (
                (w - 150) // 2,
                (h - 150) // 2,
                (w + 150) // 2,
                (h + 150) // 2,
            )  # the face, as deep funneling centres it
            imgs.append(np.asarray(im.crop(box).resize((size, size), Image.BICUBIC), np.float32) / 255)
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()


def _differs(kind: str, stored: np.ndarray, current: np.ndarray) -> str | None:
    if stored.shape != current.shape:
        return f"{kind} output shape {tuple(stored.shape)} → {tuple(current.shape)}"
    diff = float(np.abs(stored.astype(np.float64) - current).max()) if stored.size else 0.0
    tol = SR_TOL if kind == "sr" else FR_TOL * max(float(np.abs(stored).max()), 1e-12)
    if not np.isfinite(diff) or diff > tol:
        return f"{kind} output differs by {diff:.3g} on the fingerprint input (tolerance {tol:.2g})"
    return None


def verify_cache_folder(folder: Path, current: dict[str, np.ndarray | None]) -> str | None:
    """Check ``folder``'s stored fingerprint against ``current`` (``{"sr": ..., "fr": ...}``;
    None = not part of this folder). Returns why the folder was set aside, or None when its
    shards may be used. Writes the fingerprint into a folder that has none and holds no shards."""
    current = {k: v for k, v in current.items() if v is not None}
    reason = None
    if folder.is_dir() and any(folder.glob("shard-*.npy")):
        fp = folder / FILE
        if not fp.is_file():
            reason = "its shards have no behavioural fingerprint (made by an older srfacebench)"
        else:
            with np.load(fp) as stored:
                for kind, cur in current.items():
                    reason = (
                        f"no stored {kind} fingerprint"
                        if kind not in stored.files
                        else _differs(kind, stored[kind], cur)
                    )
                    if reason:
                        break
        if reason:
            n = 0
            while folder.with_name(_stale_name(folder.name, n)).exists():
                n += 1
            os.replace(folder, folder.with_name(_stale_name(folder.name, n)))
    if not (folder / FILE).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **current)
        atomic_write_bytes(folder / FILE, buf.getvalue())
    return reason


_STALE = re.compile(r".+\.stale-\d+")  # a set-aside cache folder: <key>.stale-<n>


def _stale_name(key: str, n: int | str) -> str:
    """The name a stale cache folder ``key`` is set aside under the ``n``-th time (``"*"``: a glob of
    them); ``_STALE`` matches it."""
    return f"{key}.stale-{n}"


def prune_stale(run: Path, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Remove the cache folders a run set aside as stale (``OUT/cache/**/<key>.stale-<n>``) and
    return each with its size in bytes. The run folder is locked meanwhile (a run writing into it
    makes this fail, naming its pid); the live caches are not touched. ``dry_run`` only lists."""
    import shutil

    from .errors import ConfigError
    from .io import RunLock

    cache = Path(run) / "cache"
    if not Path(run).is_dir():
        raise ConfigError(f"{run}: no such run folder")
    found: list[tuple[Path, int]] = []
    with RunLock(run):
        if cache.is_dir():
            for d in sorted(cache.rglob(_stale_name("*", "*"))):
                inside = d.relative_to(cache).parts[:-1]  # only folders within the cache, not the run's own path
                if d.is_dir() and _STALE.fullmatch(d.name) and not any(_STALE.fullmatch(part) for part in inside):
                    found.append((d, sum(f.stat().st_size for f in d.rglob("*") if f.is_file())))
        if not dry_run:
            for d, _ in found:
                shutil.rmtree(d)
    return found


def _path_identity(value: str) -> Any:
    p = Path(value).expanduser()
    try:
        if p.is_file():
            return {"file_sha256": sha256_file(p)}
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(p.rglob("*")):
                if f.is_file():
                    st = f.stat()
                    h.update(f"{f.relative_to(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            return {"dir": str(p.resolve()), "listing_sha256": h.hexdigest()}
    except OSError:
        return value
    return value


def args_identity(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A model's bound arguments as its cache key holds them: text and numbers as given (typed),
    file paths by content hash, folders by a digest of their listing."""
    out: dict[str, Any] = {}
    for k, v in sorted(kwargs.items()):
        if isinstance(v, (str, os.PathLike)) and str(v) and len(str(v)) < 4096:
            out[k] = _path_identity(str(v))
        elif isinstance(v, (bool, int, float)) or v is None:
            out[k] = v
        else:
            out[k] = repr(v)
    return out
