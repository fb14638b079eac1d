"""Reading images strictly: every failure names the file, nothing is decoded "as best it can".

- JPEG: the marker stream is checked (a scan that breaks off or holds an invalid marker is an
  error), then decoded by libjpeg-turbo (``simplejpeg``) in strict mode, which turns libjpeg's
  "corrupt data" warnings — the ones that otherwise give a face with a grey lower half — into
  errors. Pixels are identical to Pillow's (accurate DCT and upsampling).
- Other formats: Pillow, fully loaded (a truncated file is an error, never padded).
- An image over ``PIL.Image.MAX_IMAGE_PIXELS`` (89.5 MP) is refused from its header, before any
  decoding (a decompression bomb), whatever its format.
- EXIF orientation is applied; 16-bit greyscale is scaled to 8 bits (``/257``), not clipped;
  palette, greyscale and alpha images become RGB.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError

__all__ = ["check_present", "decode_rgb", "jpeg_problem", "read_rgb"]

_SCAN_END = {0xD9, 0xC4, 0xDA, 0xDB, 0xDD, 0xC2, 0xFE} | set(range(0xE0, 0xF0))


def jpeg_problem(data: bytes) -> str | None:
    """What is structurally wrong with a JPEG's marker stream, or None if nothing is."""
    if data[:2] != b"\xff\xd8":
        return "no SOI marker"
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            return f"expected a marker at byte {i}"
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            return "truncated"
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            return "truncated"
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2:
            return f"bad segment length at byte {i}"
        i += length
        if marker == 0xDA:  # entropy-coded data runs to the next real marker
            while i < n:
                if data[i] == 0xFF:
                    if i + 1 >= n:
                        return "truncated in scan data"
                    nxt = data[i + 1]
                    if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                        i += 2
                        continue
                    if nxt == 0xFF:
                        i += 1
                        continue
                    if nxt in _SCAN_END:
                        break
                    return f"corrupt scan data at byte {i} (0xFF{nxt:02X})"
                i += 1
    return "no end-of-image marker (truncated)"


_ORIENT = {  # EXIF orientation -> (rotations by 90° counter-clockwise, then flip left-right)
    2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False),
}  # fmt: skip


def _orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError):
        return 1


def _check_size(width: int, height: int, where: str) -> None:
    """Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 MP by default), applied
    to every format from the header alone, as an error rather than Pillow's warning."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise DataError(
            f"{where}: {width}×{height} pixels ({width * height / 1e6:.0f} MP) exceeds the {limit / 1e6:.1f} MP "
            "limit on input images (PIL.Image.MAX_IMAGE_PIXELS; a decompression bomb?); not decoded"
        )


def _decode_jpeg(data: bytes, where: str) -> np.ndarray:
    import simplejpeg

    problem = jpeg_problem(data)
    if problem:
        raise DataError(f"{where}: corrupt JPEG ({problem})")
    try:
        height, width, *_ = simplejpeg.decode_jpeg_header(data)
    except (ValueError, RuntimeError) as e:
        raise DataError(f"{where}: corrupt JPEG ({e})") from None
    _check_size(width, height, where)
    try:
        arr = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=True)
    except (ValueError, RuntimeError) as e:
        raise DataError(f"{where}: corrupt JPEG ({e})") from None
    rot, flip = _ORIENT.get(_orientation(data), (0, False))
    if flip:
        arr = arr[:, ::-1]
    if rot:
        arr = np.rot90(arr, rot)
    return np.ascontiguousarray(arr)


def _to_rgb(im: Image.Image) -> np.ndarray:
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(np.round(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "F":
        raise DataError("32-bit float images are not supported (their value range is undefined)")
    return np.asarray(im.convert("RGB"))


def decode_rgb(data: bytes, where: str = "<bytes>") -> np.ndarray:
    """Decode image bytes strictly into an H×W×3 uint8 RGB array (see the module notes)."""
    if data[:2] == b"\xff\xd8":
        return _decode_jpeg(data, where)
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning: _check_size makes it an error
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            _check_size(*im.size, where)  # the header only: nothing decoded yet
            im.load()
            return _to_rgb(im)
    except DataError as e:
        raise DataError(e.args[0] if str(e).startswith(where) else f"{where}: {e}") from None
    except Image.DecompressionBombError as e:  # past Pillow's own limit, refused by Image.open
        raise DataError(f"{where}: refused as a decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise DataError(f"{where}: cannot decode image (not a recognised image format)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{where}: cannot decode image ({e})") from None


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file fully and strictly into an H×W×3 uint8 RGB array.

    Raises:
        DataError: ``"<path>: missing image"``, ``"<path>: corrupt JPEG (...)"`` or
            ``"<path>: cannot decode image (...)"``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing image")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    return decode_rgb(data, str(path))


def check_present(root: Path, rel_paths: list[str], source: str) -> None:
    """Raise one DataError listing every image of ``rel_paths`` missing under ``root``."""
    missing = [p for p in rel_paths if not (root / p).is_file()]
    if missing:
        shown = "\n  ".join(str(root / p) for p in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise DataError(f"{source}: {len(missing)} listed image(s) missing:\n  {shown}{more}")
