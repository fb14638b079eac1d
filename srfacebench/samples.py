"""Sample faces for the report: HR, each degradation's LR and each model's SR of a few images.

Written after a run (not by the engine) into ``OUT/samples/`` with a manifest ``samples.json``
whose entries name only files inside that folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .data.chips import ChipDataset
from .degradations import Degradation
from .io import atomic_write_bytes, atomic_write_text, png_bytes
from .registry import HR
from .streaming import Variant, super_resolve

__all__ = ["N_SAMPLES", "write_samples"]

N_SAMPLES = 4


def write_samples(
    out: Path,
    chip_root: Path,
    chip_names: list[str],
    paths: list[str],
    variants: list[Variant],
    degradations: dict[str, Degradation],
    device: str = "cpu",
) -> None:
    """PNG faces of the first ``N_SAMPLES`` pool images: HR, then LR and every SR per degradation."""
    folder = Path(out) / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    picks = list(range(min(N_SAMPLES, len(paths))))
    hr = torch.stack([ChipDataset(chip_root, chip_names)[i][1] for i in picks]).to(device)
    keys = [paths[i] for i in picks]
    entries: list[dict[str, Any]] = []

    def save(img: torch.Tensor, name: str, **meta: Any) -> None:
        arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        atomic_write_bytes(folder / name, png_bytes(arr))
        entries.append({"file": name, **meta})

    labels = list(dict.fromkeys(v.degradation for v in variants if not v.is_hr))
    for j, i in enumerate(picks):
        save(hr[j], f"hr-{j}.png", model=HR, scale=1, degradation="none", kind="hr", image=paths[i])
    for d_i, label in enumerate(labels):
        deg = degradations[label]
        lr = deg(hr, keys)
        for j, i in enumerate(picks):
            meta = {"scale": deg.scale, "degradation": label, "image": paths[i]}
            save(lr[j], f"lr-d{d_i}-{j}.png", model="lr", kind="lr", **meta)
            for k, v in enumerate(w for w in variants if w.degradation == label):
                sr = super_resolve(v, lr[j : j + 1])
                save(sr[0], f"sr-d{d_i}-m{k}-{j}.png", model=v.model, kind="sr", **meta)
    # The HR chips appear in the grid of every degradation.
    manifest = [
        e | {"scale": degradations[lab].scale, "degradation": lab}
        for e in entries
        if e["kind"] == "hr"
        for lab in labels
    ]
    manifest += [e for e in entries if e["kind"] != "hr"]
    atomic_write_text(folder / "samples.json", json.dumps({"entries": manifest}, indent=1))
