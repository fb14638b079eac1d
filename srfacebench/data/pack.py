"""Packing aligned chips into one compact file (JPEG-coded, no pickle) to move them between machines.

``pack_chips`` stores N chips as concatenated JPEG bytes with their offsets and integer labels in
an ``.npz`` (``allow_pickle=False`` on both sides); ``unpack_chips`` decodes them strictly.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..io import atomic_write_bytes
from .images import decode_rgb

__all__ = ["pack_chips", "unpack_chips"]


def pack_chips(path: str | Path, chips: np.ndarray, labels: np.ndarray, quality: int = 90, subsampling: int = 2) -> int:
    """Write uint8 chips (N×H×W×3) and labels (N,) to ``path``; returns the file size in bytes.

    JPEG at ``quality`` with Pillow's ``subsampling`` (2 = 4:2:0, 0 = 4:4:4)."""
    from PIL import Image

    blobs, offsets = [], [0]
    for chip in chips:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(chip)).save(buf, "JPEG", quality=quality, subsampling=subsampling)
        blobs.append(buf.getvalue())
        offsets.append(offsets[-1] + len(blobs[-1]))
    out = io.BytesIO()
    np.savez(out, blob=np.frombuffer(b"".join(blobs), np.uint8), offsets=np.asarray(offsets, np.int64),
             labels=np.asarray(labels, np.int64), quality=np.int64(quality))  # fmt: skip
    atomic_write_bytes(path, out.getvalue())
    return len(out.getvalue())


def unpack_chips(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 chips N×H×W×3, int64 labels) from a file written by :func:`pack_chips`."""
    with np.load(path, allow_pickle=False) as z:
        blob, offsets, labels = z["blob"].tobytes(), z["offsets"], z["labels"]
    chips = [decode_rgb(blob[offsets[i] : offsets[i + 1]], f"{path}[{i}]") for i in range(len(offsets) - 1)]
    return np.stack(chips), labels
