"""torch for the modules the command line needs before any work: imported on first use.

Parsing a run's options, protocols, degradation specs and model names needs no torch; importing it
takes seconds. :mod:`srfacebench.degradations`, :mod:`srfacebench.degrade` and
:mod:`srfacebench.resolver` bind ``torch`` and ``F`` to these proxies, so a mistake on the command
line is answered before torch loads (``srfacebench run`` checks the whole plan first), and the first
computation imports it. Type checkers see the real modules.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["F", "LazyModule", "torch"]


class LazyModule:
    """A module imported the first time one of its attributes is read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


torch: Any = LazyModule("torch")
F: Any = LazyModule("torch.nn.functional")
