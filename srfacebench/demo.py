"""``srfacebench demo``: HR and bicubic on the LFW sample shipped inside the package."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from .config import RunConfig
from .engine import run
from .protocols import load_protocol
from .results import RunResult

__all__ = ["demo_data_root", "run_demo"]


def demo_data_root() -> Path:
    return Path(str(importlib.resources.files("srfacebench") / "demo_data"))


def run_demo(
    out: str | Path = "srfacebench-demo", scales: list[int] | None = None, degradations: list[str] | None = None,
    **options: Any,
) -> RunResult:  # fmt: skip
    """Run ``lfw-verification`` on the shipped sample (200 pairs, 10 folds); no --data-root needed.

    ``options`` are further :class:`~srfacebench.config.RunConfig` fields (``embedders``, ``device``...).
    """
    root = demo_data_root()
    protocol = load_protocol(root / "lfw-verification-demo.toml")
    if scales is None and not degradations:
        scales = [4, 8]
    models = ("bicubic", *options.pop("models", ()))
    cfg = RunConfig(
        models=models, protocols=(protocol,), out=Path(out), scales=tuple(scales or ()),
        degradations=tuple(degradations or ()), data_root=root, **options,
    )  # fmt: skip
    return run(cfg)
