"""Labeled Faces in the Wild: the official ``pairs.txt`` (View 2) over an image folder.

``pairs.txt``: a header ``<folds>\\t<n>``, then for each fold ``n`` matched pairs ``name i j``
followed by ``n`` mismatched pairs ``name1 i name2 j``. Images are
``<images>/<name>/<name>_<i:04d>.jpg``. A malformed line fails with ``file:line`` and its text;
missing images fail together in one error that lists them. Nothing is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import sha256_file
from .faceset import FaceSet, Pairs
from .images import check_present

__all__ = ["load_lfw_pairs", "parse_pairs_file"]


_SAFE_NAME = re.compile(r"[^/\\\x00]+")


def _image_rel(name: str, num: int) -> str:
    return f"{name}/{name}_{num:04d}.jpg"


def _positive_int(text: str, where: str, line: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DataError(f"{where}: expected an integer, found {text!r} in line {line!r}") from None
    if value < 1:
        raise DataError(f"{where}: expected a positive integer, found {value} in line {line!r}")
    return value


def parse_pairs_file(path: str | Path) -> tuple[list[tuple[str, int, str, int, bool, int]], int, int]:
    """Parse a pairs file into ``(name1, i, name2, j, same, fold)`` tuples, with (folds, n)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pairs file not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); pairs files are plain text") from None
    if not lines:
        raise DataError(f"{path}:1: empty pairs file")
    head = lines[0].split()
    if len(head) == 1:  # pairsDevTrain/DevTest: a single count, one fold
        folds, n = 1, _positive_int(head[0], f"{path}:1", lines[0])
    elif len(head) == 2:
        folds, n = (_positive_int(x, f"{path}:1", lines[0]) for x in head)
    else:
        raise DataError(f"{path}:1: expected a header '<folds> <pairs per fold>', found {lines[0]!r}")
    body = lines[1:]
    while body and not body[-1].strip():
        body.pop()
    expected = folds * 2 * n
    if len(body) != expected:
        raise DataError(
            f"{path}: header says {folds} folds × 2 × {n} pairs = {expected} lines, the file has {len(body)}"
        )
    out = []
    seen: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
    for k, line in enumerate(body):
        lineno = k + 2
        where = f"{path}:{lineno}"
        fold, pos = divmod(k, 2 * n)
        parts = line.split()
        for person in parts[:1] + (parts[2:3] if len(parts) == 4 else []):
            if not _SAFE_NAME.fullmatch(person) or person in (".", ".."):
                raise DataError(
                    f"{where}: person name {person!r} is not a plain folder name (it could leave the image folder)"
                )
        if pos < n:
            if len(parts) != 3:
                raise DataError(f"{where}: expected a matched pair 'name i j', found {line!r}")
            name, i, j = parts
            out.append((name, _positive_int(i, where, line), name, _positive_int(j, where, line), True, fold))
        else:
            if len(parts) != 4:
                raise DataError(f"{where}: expected a mismatched pair 'name1 i name2 j', found {line!r}")
            n1, i, n2, j = parts
            out.append((n1, _positive_int(i, where, line), n2, _positive_int(j, where, line), False, fold))
        a, b = out[-1][:2], out[-1][2:4]
        if a == b:
            raise DataError(f"{where}: pairs an image with itself ({a[0]} {a[1]}): its distance is 0 by construction")
        if not out[-1][4] and a[0] == b[0]:
            raise DataError(f"{where}: a mismatched pair of one person ({a[0]}): labelled 'different' but the same")
        key = (min(a, b), max(a, b))
        if key in seen:
            raise DataError(f"{where}: the same pair as line {seen[key]} ({a[0]} {a[1]}, {b[0]} {b[1]}): counted twice")
        seen[key] = lineno
    return out, folds, n


def load_lfw_pairs(
    root: str | Path,
    *,
    pairs_file: str = "pairs.txt",
    images: str = "lfw-deepfunneled",
    limit_per_fold: int | None = None,
    name: str = "lfw",
) -> FaceSet:
    """Load LFW verification pairs and the images they reference.

    Args:
        root: the LFW folder holding ``pairs_file`` and the ``images`` folder.
        limit_per_fold: keep only the first ``limit // 2`` matched and ``limit - limit // 2``
            mismatched pairs of every fold (a smaller but still 10-fold subset).

    Raises:
        DataError: malformed pairs line (``file:line``) or missing images (all listed).
    """
    root = Path(root)
    pairs_path = root / pairs_file
    parsed, folds, n = parse_pairs_file(pairs_path)
    if limit_per_fold is not None:
        if limit_per_fold < 2:
            raise DataError(f"limit per fold must be at least 2, got {limit_per_fold}")
        keep_same, keep_diff = limit_per_fold // 2, limit_per_fold - limit_per_fold // 2
        kept = []
        for f in range(folds):
            fold_pairs = parsed[f * 2 * n : (f + 1) * 2 * n]
            kept += fold_pairs[:n][:keep_same] + fold_pairs[n:][:keep_diff]
        parsed = kept
    img_root = root / images
    index: dict[str, int] = {}
    paths: list[str] = []
    ident_index: dict[str, int] = {}
    labels: list[int] = []
    a, b, same, fold = [], [], [], []

    def add(person: str, num: int) -> int:
        rel = _image_rel(person, num)
        if rel not in index:
            index[rel] = len(paths)
            paths.append(rel)
            labels.append(ident_index.setdefault(person, len(ident_index)))
        return index[rel]

    for n1, i, n2, j, s, f in parsed:
        a.append(add(n1, i))
        b.append(add(n2, j))
        same.append(s)
        fold.append(f)
    check_present(img_root, paths, str(pairs_path))
    return FaceSet(
        name=name,
        root=img_root,
        paths=paths,
        labels=np.asarray(labels, dtype=np.int64),
        identities=list(ident_index),
        pairs=Pairs(
            a=np.asarray(a, dtype=np.int64),
            b=np.asarray(b, dtype=np.int64),
            same=np.asarray(same, dtype=bool),
            fold=np.asarray(fold, dtype=np.int64),
        ),
        checksums={pairs_file: sha256_file(pairs_path)},
    )
