"""Identification datasets: CelebA, LFW people, and any identity-folder tree.

Selection rules (the paper's "test identities with exactly 30 images", parameterised):
``images_per_identity`` keeps identities with exactly that many images; otherwise
``min_images`` (and optionally ``max_images``) bound the count. Identities and images are sorted,
so the same tree always gives the same FaceSet.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import sha256_file
from .align import list_images
from .faceset import FaceSet
from .images import check_present

__all__ = ["CELEBA_SPLITS", "load_celeba", "load_identity_folder", "select_identities"]

CELEBA_SPLITS = {"train": 0, "val": 1, "test": 2}


def select_identities(
    by_identity: dict[str, list[str]],
    *,
    images_per_identity: int | None = None,
    min_images: int = 2,
    max_images: int | None = None,
) -> dict[str, list[str]]:
    """Identities (sorted) whose image count passes the rule, each with its sorted images."""
    out = {}
    for ident in sorted(by_identity):
        n = len(by_identity[ident])
        if images_per_identity is not None:
            ok = n == images_per_identity
        else:
            ok = n >= min_images and (max_images is None or n <= max_images)
        if ok:
            out[ident] = sorted(by_identity[ident])
    return out


def _faceset(name: str, root: Path, chosen: dict[str, list[str]], checksums: dict[str, str], rule: str) -> FaceSet:
    if len(chosen) < 2:
        raise DataError(f"{root}: only {len(chosen)} identit{'y' if len(chosen) == 1 else 'ies'} match {rule}")
    paths, labels = [], []
    for k, ident in enumerate(chosen):
        paths += chosen[ident]
        labels += [k] * len(chosen[ident])
    check_present(root, paths, str(root))
    return FaceSet(name, root, paths, np.asarray(labels, np.int64), list(chosen), None, checksums)


def _rule(images_per_identity: int | None, min_images: int, max_images: int | None) -> str:
    if images_per_identity is not None:
        return f"'exactly {images_per_identity} images'"
    return f"'at least {min_images}" + (f" and at most {max_images}" if max_images else "") + " images'"


def _read_two_columns(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise DataError(f"{path}: list file not found")
    rows = []
    seen: dict[str, tuple[int, str]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise DataError(f"{path}:{lineno}: expected 'image value', found {line.rstrip()!r}")
            if parts[0] in seen:  # a repeated image would be counted twice (or under two identities)
                first, value = seen[parts[0]]
                what = "again" if value == parts[1] else f"with {parts[1]!r}, line {first} says {value!r}"
                raise DataError(f"{path}:{lineno}: image {parts[0]} is listed {what} (first on line {first})")
            seen[parts[0]] = (lineno, parts[1])
            rows.append((parts[0], parts[1]))
    return rows


def load_celeba(
    root: str | Path,
    *,
    images: str = "img",
    identities_file: str = "identity_CelebA.txt",
    partition_file: str = "list_eval_partition.txt",
    split: str = "test",
    images_per_identity: int | None = 30,
    min_images: int = 2,
    max_images: int | None = None,
    name: str = "celeba",
) -> FaceSet:
    """CelebA identities of one split (``train``/``val``/``test``), selected by image count.

    Works with the official full files (202,599 lines) and with subsets that list only the images
    present. An image listed in the chosen identities but absent is an error listing all such.
    """
    root = Path(root)
    if split not in CELEBA_SPLITS:
        raise DataError(f"unknown CelebA split {split!r}; known: {', '.join(CELEBA_SPLITS)}")
    id_path, part_path = root / identities_file, root / partition_file
    partition = {}
    for img, value in _read_two_columns(part_path):
        if value not in ("0", "1", "2"):
            raise DataError(f"{part_path}: partition of {img} is {value!r}, expected 0, 1 or 2")
        partition[img] = int(value)
    wanted = CELEBA_SPLITS[split]
    by_identity: dict[str, list[str]] = defaultdict(list)
    for img, ident in _read_two_columns(id_path):
        if img not in partition:
            raise DataError(f"{id_path}: image {img} has no partition in {part_path}")
        if partition[img] == wanted:
            by_identity[ident].append(f"{images}/{img}")
    chosen = select_identities(
        by_identity, images_per_identity=images_per_identity, min_images=min_images, max_images=max_images
    )
    checksums = {identities_file: sha256_file(id_path), partition_file: sha256_file(part_path)}
    rule = f"{_rule(images_per_identity, min_images, max_images)} in split {split!r}"
    return _faceset(name, root, chosen, checksums, rule)


def load_identity_folder(
    root: str | Path,
    *,
    images: str = "",
    images_per_identity: int | None = None,
    min_images: int = 2,
    max_images: int | None = None,
    distractors: str | None = None,
    distractor_max_images: int | None = None,
    distractor_limit: int | None = None,
    name: str = "faces",
) -> FaceSet:
    """One sub-folder per identity (LFW's layout included), selected by image count.

    ``distractors`` adds a folder of distractor images (labelled -1: searched among, never
    searched with): with ``distractor_max_images`` its identity sub-folders with at most that many
    images (``distractors`` may then be ``images`` itself: LFW's one-image people beside its
    ten-image ones), otherwise every image under it, any layout; sorted, the first
    ``distractor_limit``. A distractor may not belong to a selected identity. The set's root is
    then the two folders' common parent.
    """
    base = Path(root) / images if images else Path(root)
    by_identity = _by_identity(base)
    chosen = select_identities(
        by_identity, images_per_identity=images_per_identity, min_images=min_images, max_images=max_images
    )
    rule = _rule(images_per_identity, min_images, max_images)
    if distractors is None:
        return _faceset(name, base, chosen, {}, rule)
    dbase = Path(root) / distractors
    if not dbase.is_dir():
        raise DataError(f"{dbase}: distractor folder not found")
    if distractor_max_images is not None:
        others = {k: v for k, v in _by_identity(dbase).items() if len(v) <= distractor_max_images}
        if dbase.resolve() == base.resolve():
            others = {k: v for k, v in others.items() if k not in chosen}
        clash = sorted(set(others) & set(chosen))
        if clash:
            raise DataError(f"{dbase}: distractor identities {clash[:5]} are also searched identities in {base}")
        extra = sorted(p for v in others.values() for p in v)
    else:
        extra = sorted(list_images(dbase))
    extra = extra[:distractor_limit] if distractor_limit is not None else extra
    if not extra:
        raise DataError(f"{dbase}: no distractor images (distractor_max_images = {distractor_max_images})")
    fs = _faceset(name, base, chosen, {}, rule)
    base_abs, dbase_abs = Path(os.path.normpath(base.absolute())), Path(os.path.normpath(dbase.absolute()))
    top = Path(os.path.commonpath([base_abs, dbase_abs]))
    main = [(base_abs / p).relative_to(top).as_posix() for p in fs.paths]
    more = [(dbase_abs / p).relative_to(top).as_posix() for p in extra]
    if set(main) & set(more):
        raise DataError(f"{dbase}: distractor images are also images of the searched identities in {base}")
    check_present(top, more, str(dbase))
    labels = np.concatenate([fs.labels, np.full(len(more), -1, np.int64)])
    return FaceSet(name, top if top != base_abs else base, main + more, labels, fs.identities, None, {})


def _by_identity(base: Path) -> dict[str, list[str]]:
    by_identity: dict[str, list[str]] = defaultdict(list)
    for rel in list_images(base):
        parts = Path(rel).parts
        if len(parts) < 2:
            raise DataError(f"{base / rel}: images must sit in one sub-folder per identity")
        by_identity[parts[0]].append(rel)
    return by_identity
