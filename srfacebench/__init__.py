"""srfacebench: benchmark face super-resolution by what face recognition still sees."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import DataError, ModelError, ProtocolError, SrfacebenchError
from .resolver import ModelInfo, SuperResolver


def evaluate(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Run models × protocols × scales; see :func:`srfacebench.engine.evaluate`."""
    from .engine import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def load_runs(run_dirs):  # type: ignore[no-untyped-def]
    """Merge run folders into DataFrames; see :func:`srfacebench.report.runs.load_runs`."""
    from .report.runs import load_runs as _load_runs

    return _load_runs(run_dirs)


__all__ = [
    "DataError",
    "ModelError",
    "ModelInfo",
    "ProtocolError",
    "SrfacebenchError",
    "SuperResolver",
    "__version__",
    "evaluate",
    "load_runs",
]
