"""FaceSet: the images of a test set, their identities and (optionally) verification pairs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FaceSet", "Pairs", "without_images"]


@dataclass(frozen=True)
class Pairs:
    """Verification pairs as index arrays into a FaceSet's images."""

    a: np.ndarray  # int64, index of the first image
    b: np.ndarray  # int64, index of the second image
    same: np.ndarray  # bool, True for a matched (same identity) pair
    fold: np.ndarray  # int64, 0-based fold, in the official order

    def __post_init__(self) -> None:
        n = len(self.a)
        if not (len(self.b) == len(self.same) == len(self.fold) == n):
            raise ValueError("pair arrays must have the same length")

    def __len__(self) -> int:
        return len(self.a)


@dataclass(frozen=True)
class FaceSet:
    """Images (relative to ``root``), integer identity labels and optional pairs.

    Attributes:
        name: dataset name recorded in results, e.g. ``"lfw"``.
        root: folder the relative ``paths`` live in (raw, unaligned images).
        paths: relative image paths, in a fixed order.
        labels: identity index per image (into ``identities``).
        identities: identity names.
        pairs: verification pairs, or None.
        checksums: SHA-256 of the list files the set was read from, by file name.
    """

    name: str
    root: Path
    paths: list[str]
    labels: np.ndarray
    identities: list[str]
    pairs: Pairs | None = None
    checksums: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self) -> str:
        """Hash of the image list, labels and pairs (not of pixel data; see ``checksums``)."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update("\n".join(self.paths).encode())
        h.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        if self.pairs is not None:
            for arr in (self.pairs.a, self.pairs.b, self.pairs.same.astype(np.int64), self.pairs.fold):
                h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        for k in sorted(self.checksums):
            h.update(f"{k}={self.checksums[k]}".encode())
        return h.hexdigest()


def without_images(fs: FaceSet, drop: set[str]) -> tuple[FaceSet, np.ndarray]:
    """``fs`` without the images whose path is in ``drop``, and the kept images' old indices.

    Verification pairs touching a dropped image are dropped with it (folds keep their order);
    identities left with no image disappear from the labels' use but keep their names.
    """
    keep = np.array([i for i, p in enumerate(fs.paths) if p not in drop], dtype=np.int64)
    new_of = np.full(len(fs.paths), -1, dtype=np.int64)
    new_of[keep] = np.arange(len(keep))
    pairs = None
    if fs.pairs is not None:
        ok = (new_of[fs.pairs.a] >= 0) & (new_of[fs.pairs.b] >= 0)
        pairs = Pairs(new_of[fs.pairs.a[ok]], new_of[fs.pairs.b[ok]], fs.pairs.same[ok], fs.pairs.fold[ok])
    return (
        FaceSet(fs.name, fs.root, [fs.paths[i] for i in keep], fs.labels[keep], fs.identities, pairs, fs.checksums),
        keep,
    )
