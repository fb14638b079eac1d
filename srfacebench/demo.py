"""``srfacebench demo``: HR and bicubic on the LFW sample shipped inside the package."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from .engine import evaluate
from .protocols import load_protocol
from .results import RunResult

__all__ = ["demo_data_root", "run_demo"]


def demo_data_root() -> Path:
    return Path(str(importlib.resources.files("srfacebench") / "demo_data"))


def run_demo(out: str | Path = "srfacebench-demo", scales: list[int] | None = None, **kwargs: Any) -> RunResult:
    """Run ``lfw-verification`` on the shipped sample (200 pairs, 10 folds); no --data-root needed."""
    root = demo_data_root()
    protocol = load_protocol(root / "lfw-verification-demo.toml")
    return evaluate(["bicubic"], [protocol], scales or [4, 8], out, data_root=root, **kwargs)
