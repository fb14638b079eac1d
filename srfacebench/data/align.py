"""Face alignment into dlib face chips (5-point landmarks, similarity transform, padding).

dlib's face descriptor expects the chips dlib makes: ``get_face_chip`` from the 5-point
landmarks of ``shape_predictor_5_face_landmarks.dat``, with padding 0.25. This module makes those
chips with dlib's own code (``dlib-bin``), from the model files of ``face-recognition-models``.

Face finding, in order:

1. dlib's HOG frontal face detector at the image's own resolution, then once more up-sampled ×2;
   when it finds several faces, the one whose centre is nearest the image centre (LFW and CelebA
   crops are centred on their subject) is used;
2. **fallback** when it finds none: the landmarks are predicted inside a fixed box of the image,
   ``FALLBACK_BOX`` (fractions of width/height: the median HOG box on LFW-style centred crops).
   The image is aligned all the same and the fact is logged (``status = fallback``) in the CSV
   log; nothing is dropped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..io import atomic_write_bytes, atomic_write_text, png_bytes
from .images import read_rgb

__all__ = ["FALLBACK_BOX", "AlignResult", "Aligner", "align_files", "align_folder", "align_jobs", "fallback_chips"]

FALLBACK_BOX = (0.268, 0.32, 0.70, 0.748)  # left, top, right, bottom as fractions of W, H
LOG_NAME = "align_log.csv"
LOG_FIELDS = ["path", "status", "faces_found", "action", "source"]
# One marker file per fallback chip, written atomically by the worker *before* the chip itself: a
# chip that exists always has its flag (kill -9 included), and runs sharing the chip folder each add
# their own markers instead of rewriting one log from a stale copy. align_log.csv is a summary of them.
MARKER_DIR = ".fallback"


def _marker(dst_root: Path, key: str) -> Path:
    return dst_root / MARKER_DIR / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


@dataclass(frozen=True)
class AlignResult:
    path: str
    status: str  # "detected" | "fallback"
    faces_found: int

    @property
    def action(self) -> str:
        if self.status == "fallback":
            return "landmarks predicted in the fixed centre box FALLBACK_BOX"
        return "aligned on the detected face nearest the centre"


class Aligner:
    """dlib detector + 5-point shape predictor + ``get_face_chip``."""

    def __init__(self, size: int = 160, padding: float = 0.25) -> None:
        try:
            import dlib
        except ImportError as e:  # pragma: no cover - dlib-bin is a core dependency
            raise DataError("alignment needs dlib: `pip install dlib-bin`") from e
        from ..embedders.dlib_resnet import find_dlib_model_file

        self._dlib = dlib
        self.size = size
        self.padding = padding
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(find_dlib_model_file("shape_predictor_5_face_landmarks.dat")))

    def align(self, img: np.ndarray) -> tuple[np.ndarray, str, int]:
        """Return (chip H×W×3 uint8, status, number of faces found)."""
        dlib = self._dlib
        h, w = img.shape[:2]
        faces = self.detector(img, 0)
        if len(faces) == 0:
            faces = self.detector(img, 1)
        if len(faces):
            cx, cy = w / 2, h / 2
            box = min(faces, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
            status = "detected"
        else:
            l, t, r, b = FALLBACK_BOX
            box = dlib.rectangle(round(l * w), round(t * h), round(r * w), round(b * h))
            status = "fallback"
        shape = self.predictor(img, box)
        chip = dlib.get_face_chip(img, shape, size=self.size, padding=self.padding)
        return np.asarray(chip), status, len(faces)


_WORKER: Aligner | None = None


def _init_worker(size: int, padding: float) -> None:
    global _WORKER
    _WORKER = Aligner(size, padding)


def _align_one(job: tuple[str, str, str, str]) -> AlignResult:
    src, dst, key, marker = job
    assert _WORKER is not None
    img = read_rgb(src)
    chip, status, n = _WORKER.align(img)
    res = AlignResult(src, status, n)
    if status == "fallback":  # the flag first, then the chip
        row = {"path": key, "status": status, "faces_found": str(n), "action": res.action, "source": src}
        Path(marker).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(marker), json.dumps(row))
    else:
        Path(marker).unlink(missing_ok=True)
    atomic_write_bytes(Path(dst), png_bytes(chip))
    return res


def chip_name(rel: str) -> str:
    """Relative path of the chip made from the image at ``rel`` (same folders, ``.png``)."""
    return str(Path(rel).with_suffix(".png"))


def _read_log(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def align_files(
    src_root: str | Path,
    rel_paths: Sequence[str],
    dst_root: str | Path,
    *,
    size: int = 160,
    padding: float = 0.25,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Align the images ``src_root/rel`` into ``dst_root/rel.png``; resumable.

    Chips that already exist are kept. The CSV log ``dst_root/align_log.csv`` lists every image
    aligned by the fallback (and how many faces were found). Returns counts by status.

    Raises:
        DataError: naming the image that could not be read or aligned.
    """
    src_root = Path(src_root)
    jobs = [(str(src_root / r), chip_name(r)) for r in rel_paths]
    keys = dict(zip((chip_name(r) for r in rel_paths), rel_paths, strict=True))
    counts = align_jobs(
        jobs, dst_root, size=size, padding=padding, workers=workers, progress=progress, log_key=keys.__getitem__
    )
    log = _all_fallbacks(Path(dst_root))
    counts["fallback_total"] = sum(1 for r in rel_paths if chip_name(r) in log or r in log)
    return counts


def align_jobs(
    jobs: Sequence[tuple[str, str]],
    dst_root: str | Path,
    *,
    size: int = 160,
    padding: float = 0.25,
    workers: int | None = None,
    progress: bool = True,
    log_key: Callable[[str], str] | None = None,
) -> dict[str, int]:
    """Align each ``(source image path, chip name)`` job into ``dst_root/chip name``; resumable.

    The log ``dst_root/align_log.csv`` lists every chip made by the fallback, keyed by
    ``log_key(chip name)`` (default: the chip name), with the source image it came from.
    """
    dst_root = Path(dst_root)
    dst_root.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    todo = []
    for src, name in jobs:
        if name not in seen and not (dst_root / name).is_file():
            key = log_key(name) if log_key is not None else name
            todo.append((src, str(dst_root / name), key, str(_marker(dst_root, key))))
        seen.add(name)
    counts = {"already_aligned": len(seen) - len(todo), "detected": 0, "fallback": 0}
    if todo:
        workers = workers or max(1, min(len(todo) // 64 + 1, os.cpu_count() or 1))
        try:
            for res in _run_jobs(todo, size, padding, workers, progress):
                counts[res.status] += 1
        finally:  # the human-readable summary, rebuilt from every marker (never from a stale copy)
            _write_log(dst_root / LOG_NAME, _all_fallbacks(dst_root))
    return counts


def _all_fallbacks(dst_root: Path) -> dict[str, dict[str, str]]:
    """Every fallback flag of a chip folder: the per-chip markers, plus an older srfacebench's log."""
    log = _read_log(dst_root / LOG_NAME)
    folder = dst_root / MARKER_DIR
    if folder.is_dir():
        for f in sorted(folder.glob("*.json")):
            try:
                row = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a marker is written atomically; an unreadable one is not ours
            log[row["path"]] = row
    return log


def fallback_chips(dst_root: str | Path) -> set[str]:
    """Chip names (log keys) aligned by the fallback (no face found): ``dst_root``'s markers."""
    return set(_all_fallbacks(Path(dst_root)))


def _run_jobs(
    todo: list[tuple[str, str]], size: int, padding: float, workers: int, progress: bool
) -> Iterable[AlignResult]:
    bar = tqdm(total=len(todo), desc="align", unit="img", disable=not progress)
    try:
        if workers == 1:
            _init_worker(size, padding)
            for job in todo:
                yield _align_one(job)
                bar.update()
        else:
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(size, padding)) as pool:
                for res in pool.map(_align_one, todo, chunksize=16):
                    yield res
                    bar.update()
    finally:
        bar.close()


def _write_log(path: Path, log: dict[str, dict[str, str]]) -> None:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_FIELDS, restval="")
    writer.writeheader()
    for key in sorted(log):
        writer.writerow(log[key])
    atomic_write_text(path, buf.getvalue())


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def list_images(root: str | Path) -> list[str]:
    """Relative paths of all images under ``root``, sorted. Symbolic links to folders and files are
    followed (a loop is an error); a file name that is not valid UTF-8 is an error naming it."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    out = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            raise DataError(f"{dirpath}: a symbolic link loop under {root}")
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for fname in filenames:
            if Path(fname).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            full = Path(dirpath) / fname
            rel = str(full.relative_to(root))
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError(f"{os.fsencode(full)!r}: file name is not valid UTF-8; rename it") from None
            if full.is_file():
                out.append(rel)
    return sorted(out)


def align_folder(src: str | Path, dst: str | Path, **kwargs: object) -> dict[str, int]:
    """Align every image under ``src`` (identity sub-folders kept) into ``dst``."""
    rels = list_images(src)
    return align_files(src, rels, dst, **kwargs)  # type: ignore[arg-type]
