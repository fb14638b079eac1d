"""srfacebench: benchmark face super-resolution by what face recognition still sees."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import DataError, ModelError, ProtocolError, SrfacebenchError
from .resolver import ModelInfo, SuperResolver


def evaluate(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Run models × protocols × scales; see :func:`srfacebench.engine.evaluate`."""
    from .engine import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


__all__ = [
    "DataError",
    "ModelError",
    "ModelInfo",
    "ProtocolError",
    "SrfacebenchError",
    "SuperResolver",
    "__version__",
    "evaluate",
]
