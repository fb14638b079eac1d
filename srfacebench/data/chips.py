"""Aligned face chips as a torch Dataset (decoded in DataLoader worker processes)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..io import sha256_file
from .align import align_jobs, fallback_chips
from .faceset import FaceSet
from .images import read_rgb

__all__ = ["AlignedSet", "ChipDataset", "aligned_root", "default_cache_dir", "ensure_aligned"]


def default_cache_dir() -> Path:
    """``$SRFACEBENCH_CACHE``, else ``$XDG_CACHE_HOME/srfacebench``, else ``~/.cache/srfacebench``."""
    env = os.environ.get("SRFACEBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "srfacebench"


CHIP_STORE = "chips-v1"


@dataclass(frozen=True)
class AlignedSet:
    """The chips of a FaceSet in the content-addressed store.

    Attributes:
        root: the store folder of this layout (``cache/chips-v1/size160-pad0.25``).
        names: per image of the set, its chip's name under ``root`` (``ab/abcd….png``: the
            SHA-256 of the image file's bytes), so a replaced image gets a new chip and two files
            with the same stem never share one.
        hashes: per image, that SHA-256.
        fallback: the set's images (relative paths) whose chip came from the fallback (no face found).
        counts: alignment work done now, by status.
    """

    root: Path
    names: list[str]
    hashes: list[str]
    fallback: list[str]
    counts: dict[str, int]

    def fingerprint(self) -> str:
        """Hash of the image contents in order (feeds every cache key built on these chips)."""
        return hashlib.sha256("\n".join(self.hashes).encode()).hexdigest()


def aligned_root(cache_dir: Path, size: int, padding: float) -> Path:
    """The content-addressed chip store of one layout (chip size and dlib padding)."""
    return Path(cache_dir) / CHIP_STORE / f"size{size}-pad{padding:g}"


def ensure_aligned(
    faceset: FaceSet, cache_dir: Path, size: int, padding: float, workers: int | None = None, progress: bool = True
) -> AlignedSet:
    """Align (once; resumable) every image of ``faceset`` into the content-addressed store."""
    root = aligned_root(cache_dir, size, padding)
    base = Path(faceset.root)
    hashes = []
    for rel in faceset.paths:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise DataError(f"{faceset.name}: image path {rel!r} leaves the dataset folder {base}")
        try:
            hashes.append(sha256_file(base / rel))
        except FileNotFoundError:
            raise DataError(f"{base / rel}: missing image") from None
        except OSError as e:
            raise DataError(f"{base / rel}: cannot read ({e.strerror or e})") from None
    names = [f"{h[:2]}/{h}.png" for h in hashes]
    jobs = [(str(base / rel), name) for rel, name in zip(faceset.paths, names, strict=True)]
    counts = align_jobs(jobs, root, size=size, padding=padding, workers=workers, progress=progress)
    fb = fallback_chips(root)
    fallback = [rel for rel, name in zip(faceset.paths, names, strict=True) if name in fb]
    return AlignedSet(root, names, hashes, fallback, counts)


class ChipDataset(Dataset):
    """Item ``i``: (index, 3×H×W float32 tensor in [0, 1]) of the chip ``root/names[i]``."""

    def __init__(self, root: Path, names: list[str], indices: list[int] | None = None) -> None:
        self.root = Path(root)
        self.names = names
        self.indices = list(range(len(names))) if indices is None else indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[int, torch.Tensor]:
        i = self.indices[k]
        arr = read_rgb(self.root / self.names[i])
        return i, torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)
