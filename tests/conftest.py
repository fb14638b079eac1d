"""Shared fixtures. Real data: $SRFACEBENCH_DATA, else ../shared/data beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [REPO.parent / "shared" / "data", Path("/work/shared/data")]


def find_data_root() -> Path | None:
    env = os.environ.get("SRFACEBENCH_DATA")
    if env:
        return Path(env)
    for c in _CANDIDATES:
        if (c / "lfw" / "pairs.txt").is_file():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = find_data_root()
    if root is None or not (root / "lfw" / "pairs.txt").is_file():
        pytest.fail(
            "integration tests need the real data: set SRFACEBENCH_DATA or place it at "
            f"{_CANDIDATES[0]} (looked in {[str(c) for c in _CANDIDATES]})"
        )
    return root


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One aligned-chip cache for the whole test session."""
    return tmp_path_factory.mktemp("srfacebench-cache")
