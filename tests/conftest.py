"""Shared fixtures. Real data: $SRFACEBENCH_DATA, else ../shared/data beside the repository.

Without the data the integration tests skip (a user's `pytest` runs the unit tier), except when
``SRFACEBENCH_REQUIRE_DATA=1`` (the README's test command, hence CI, sets it): then they fail."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# the second: where this project's CI machines keep the data when the clone is not beside it
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
        why = (
            "integration tests need the real data: set SRFACEBENCH_DATA or place it at "
            f"{_CANDIDATES[0]} (looked in {[str(c) for c in _CANDIDATES]})"
        )
        if os.environ.get("SRFACEBENCH_REQUIRE_DATA") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return root


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One aligned-chip cache for the whole test session."""
    return tmp_path_factory.mktemp("srfacebench-cache")


@pytest.fixture
def celeba_tree(tmp_path: Path) -> Path:
    """A CelebA-shaped tree of 12 synthetic 160-px images of 4 identities (for the trainer)."""
    root = tmp_path / "data" / "celeba"
    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids, parts = [], []
    for k in range(12):
        name = f"{k + 1:06d}.jpg"
        base = rng.random((1, 1, 3)) * 200
        img = np.clip(base + rng.normal(0, 20, (160, 160, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / "img" / name)
        ids.append(f"{name} {k % 4 + 1}")
        parts.append(f"{name} 0")
    (root / "identity_CelebA.txt").write_text("\n".join(ids) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return tmp_path / "data"
