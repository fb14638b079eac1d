"""Aligned face chips as a torch Dataset (decoded in DataLoader worker processes)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .align import align_files, chip_name
from .faceset import FaceSet
from .images import read_rgb

__all__ = ["ChipDataset", "aligned_root", "default_cache_dir", "ensure_aligned"]


def default_cache_dir() -> Path:
    """``$SRFACEBENCH_CACHE``, else ``$XDG_CACHE_HOME/srfacebench``, else ``~/.cache/srfacebench``."""
    env = os.environ.get("SRFACEBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "srfacebench"


def aligned_root(cache_dir: Path, faceset: FaceSet, size: int, padding: float) -> Path:
    """Where the chips of ``faceset``'s image folder live: keyed by its absolute path."""
    key = hashlib.sha256(str(Path(faceset.root).resolve()).encode()).hexdigest()[:16]
    return cache_dir / "aligned" / f"{faceset.name}-{key}" / f"size{size}-pad{padding:g}"


def ensure_aligned(
    faceset: FaceSet, cache_dir: Path, size: int, padding: float, workers: int | None = None, progress: bool = True
) -> tuple[Path, dict[str, int]]:
    """Align (once; resumable) every image of ``faceset`` and return the chip folder and counts."""
    root = aligned_root(cache_dir, faceset, size, padding)
    counts = align_files(
        faceset.root, faceset.paths, root, size=size, padding=padding, workers=workers, progress=progress
    )
    return root, counts


class ChipDataset(Dataset):
    """Item ``i``: (index, 3×H×W float32 tensor in [0, 1]) of the chip of ``paths[i]``."""

    def __init__(self, root: Path, paths: list[str], indices: list[int] | None = None) -> None:
        self.root = Path(root)
        self.paths = paths
        self.indices = list(range(len(paths))) if indices is None else indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[int, torch.Tensor]:
        i = self.indices[k]
        arr = read_rgb(self.root / chip_name(self.paths[i]))
        return i, torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)
