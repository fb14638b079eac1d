"""srfacebench: benchmark face super-resolution by what face recognition still sees.

``import srfacebench`` is light (no torch): the public names are loaded on first use (PEP 562).

Example:
    >>> import srfacebench
    >>> srfacebench.__version__
    '0.2.0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import ConfigError, DataError, ModelError, ProtocolError, SrfacebenchError

_LAZY = {
    "ModelInfo": ".resolver",
    "SuperResolver": ".resolver",
    "RunConfig": ".config",
    "RunResult": ".results",
    "evaluate": ".engine",
    "run": ".engine",
    "load_runs": ".report.runs",
    "FRDistance": ".metrics.torchmetrics",
    "PSNRY": ".metrics.torchmetrics",
    "SSIMY": ".metrics.torchmetrics",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .config import RunConfig
    from .engine import evaluate, run
    from .metrics.torchmetrics import PSNRY, SSIMY, FRDistance
    from .report.runs import load_runs
    from .resolver import ModelInfo, SuperResolver
    from .results import RunResult


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'srfacebench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "PSNRY",
    "SSIMY",
    "ConfigError",
    "DataError",
    "FRDistance",
    "ModelError",
    "ModelInfo",
    "ProtocolError",
    "RunConfig",
    "RunResult",
    "SrfacebenchError",
    "SuperResolver",
    "__version__",
    "evaluate",
    "load_runs",
    "run",
]
