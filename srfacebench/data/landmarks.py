"""Five face landmarks per aligned chip, for FR networks that expect another face layout.

For each dlib chip of a pool, dlib's 68-point predictor is run inside the chip's canonical face
box (the template square that ``get_face_chip`` maps to ``[p, 1 + p] / (1 + 2p)`` of the chip)
and reduced to the five points of the ArcFace template: eye centres (mean of each eye's six
points), nose tip (point 30) and mouth corners (48, 54), in chip pixels. The result is cached
beside each chip (content-addressed) as ``<chip>.lm5-<tag>.npy``, the tag hashing the chip layout
and the predictor file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..io import atomic_save_npy
from .images import read_rgb

__all__ = ["chip_landmarks"]

PREDICTOR = "shape_predictor_68_face_landmarks.dat"


def _predictor_path() -> Path:
    """dlib's landmark predictor from face_recognition_models, located without importing the
    package (its ``__init__`` needs ``pkg_resources``, which current setuptools no longer has)."""
    from ..embedders.dlib_resnet import find_dlib_model_file

    return find_dlib_model_file(PREDICTOR)


def chip_landmarks(chip_root: Path, names: list[str], size: int, padding: float) -> np.ndarray:
    """(N, 5, 2) float32 landmarks of the chips ``chip_root/names[i]`` (cached per chip, by content)."""
    import dlib

    pred_path = _predictor_path()
    tag = hashlib.sha256(f"{PREDICTOR}={pred_path.stat().st_size};size={size};padding={padding}".encode()).hexdigest()[
        :8
    ]
    predictor = None
    lo, hi = padding / (1 + 2 * padding) * size, (1 + padding) / (1 + 2 * padding) * size
    out = np.empty((len(names), 5, 2), np.float32)
    for i, name in enumerate(names):
        cache = Path(chip_root) / f"{name[:-4]}.lm5-{tag}.npy"
        if cache.is_file():
            out[i] = np.load(cache)
            continue
        if predictor is None:
            predictor = dlib.shape_predictor(str(pred_path))
        box = dlib.rectangle(round(lo), round(lo), round(hi), round(hi))
        shape = predictor(read_rgb(Path(chip_root) / name), box)
        a = np.array([[shape.part(j).x, shape.part(j).y] for j in range(68)], np.float64)
        out[i] = np.stack([a[36:42].mean(0), a[42:48].mean(0), a[30], a[48], a[54]])
        atomic_save_npy(cache, out[i])
    return out
