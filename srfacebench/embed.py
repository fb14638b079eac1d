"""``srfacebench embed``: embeddings of every image under a folder, saved as ``.npz``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .data.align import list_images
from .data.images import read_rgb
from .errors import DataError
from .io import atomic_write_bytes
from .registry import load_embedder

__all__ = ["embed_folder"]


class _Folder(Dataset):
    def __init__(self, root: Path, rels: list[str]) -> None:
        self.root, self.rels = root, rels

    def __len__(self) -> int:
        return len(self.rels)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(read_rgb(self.root / self.rels[i]).copy()).permute(2, 0, 1).float() / 255.0


def embed_folder(
    src: str | Path,
    output: str | Path,
    *,
    embedder: str = "dlib-resnet29",
    embedder_kwargs: dict[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 64,
) -> tuple[int, int]:
    """Embed every image under ``src`` (any size; the embedder resizes) into ``output`` (.npz).

    The archive holds ``paths`` (relative, sorted) and ``embeddings`` (float32 N×d). Images of
    different sizes are embedded one at a time. Returns (N, d).
    """
    src = Path(src)
    rels = list_images(src)
    if not rels:
        raise DataError(f"{src}: no images found")
    net = load_embedder(embedder, **(embedder_kwargs or {})).to(device).eval()
    ds = _Folder(src, rels)
    chunks = []
    with torch.inference_mode():
        try:
            for batch in DataLoader(ds, batch_size=batch_size):
                chunks.append(net(batch.to(device)).float().cpu().numpy())
        except RuntimeError as e:  # images of different sizes cannot be stacked
            if "stack" not in str(e):
                raise
            chunks = [net(ds[i][None].to(device)).float().cpu().numpy() for i in range(len(ds))]
    emb = np.concatenate(chunks).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, paths=np.array(rels), embeddings=emb, embedder=np.array(embedder))
    atomic_write_bytes(output, buf.getvalue())
    return emb.shape[0], emb.shape[1]
