"""Reading images: every failure names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError

__all__ = ["check_present", "read_rgb"]


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file fully into an H×W×3 uint8 RGB array.

    Raises:
        DataError: ``"<path>: missing"`` or ``"<path>: cannot decode image (<reason>)"`` for
            missing, corrupt or truncated files (truncated JPEGs are not padded silently).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing image")
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path}: cannot decode image ({e})") from None


def check_present(root: Path, rel_paths: list[str], source: str) -> None:
    """Raise one DataError listing every image of ``rel_paths`` missing under ``root``."""
    missing = [p for p in rel_paths if not (root / p).is_file()]
    if missing:
        shown = "\n  ".join(str(root / p) for p in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise DataError(f"{source}: {len(missing)} listed image(s) missing:\n  {shown}{more}")
