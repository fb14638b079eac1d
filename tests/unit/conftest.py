"""Tiny synthetic fixtures: an LFW-shaped dataset of noise images and adapter modules."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PROTOCOL = """
name = "tiny-verification"
version = "0.1"
task = "verification"
main_score = "accuracy"
[dataset]
name = "tiny"
loader = "lfw-pairs"
root = "tiny"
images = "imgs"
pairs = "pairs.txt"
[metrics]
accuracy = { higher_is_better = true }
auc = { higher_is_better = true }
eer = { higher_is_better = false }
"tar@far=1e-3" = { higher_is_better = true }
"""


@pytest.fixture
def tiny_data(tmp_path: Path) -> tuple[Path, Path]:
    """(data_root, protocol.toml): 2 folds × (2 matched + 2 mismatched) pairs over 64×64 images."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data" / "tiny"
    people = ["Ann_A", "Bob_B", "Cid_C", "Dee_D"]
    for p in people:
        (root / "imgs" / p).mkdir(parents=True)
        for i in (1, 2):
            img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
            Image.fromarray(img).save(root / "imgs" / p / f"{p}_{i:04d}.jpg")
    lines = ["2\t2"]
    lines += ["Ann_A\t1\t2", "Bob_B\t1\t2", "Ann_A\t1\tBob_B\t2", "Cid_C\t1\tDee_D\t1"]
    lines += ["Cid_C\t1\t2", "Dee_D\t1\t2", "Ann_A\t2\tDee_D\t2", "Bob_B\t1\tCid_C\t2"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    proto = tmp_path / "tiny-verification.toml"
    proto.write_text(PROTOCOL)
    return tmp_path / "data", proto


ADAPTERS = {
    "good_adapter": """
        import torch.nn.functional as F
        from srfacebench import ModelInfo
        def load(scale, device="cpu", **kw):
            def up(lr):
                return F.interpolate(lr, scale_factor=scale, mode="nearest")
            up.info = ModelInfo(name="nearest-test")
            return up
    """,
    "zoo_adapter": """
        from srfacebench import ModelInfo
        import torch.nn.functional as F
        def _make(name, mode):
            def loader(scale, device="cpu", **kw):
                def up(lr):
                    return F.interpolate(lr, scale_factor=scale, mode=mode)
                up.info = ModelInfo(name=name)
                return up
            return loader
        MODELS = {"near": _make("zoo-near", "nearest"), "bilin": _make("zoo-bilin", "bilinear")}
    """,
    "wrong_shape_adapter": """
        from srfacebench import ModelInfo
        def load(scale, device="cpu", **kw):
            def up(lr):
                return lr
            up.info = ModelInfo(name="identity")
            return up
    """,
    "raising_adapter": """
        from srfacebench import ModelInfo
        def load(scale, device="cpu", **kw):
            def up(lr):
                raise RuntimeError("CUDA out of memory (simulated)")
            up.info = ModelInfo(name="raiser")
            return up
    """,
    "broken_import_adapter": """
        import a_module_that_does_not_exist_anywhere
    """,
    "xss_adapter": """
        import torch.nn.functional as F
        from srfacebench import ModelInfo
        def load(scale, device="cpu", **kw):
            def up(lr):
                return F.interpolate(lr, scale_factor=scale, mode="bilinear")
            up.info = ModelInfo(name="<script>alert(1)</script>")
            return up
    """,
    "no_info_adapter": """
        def load(scale, device="cpu", **kw):
            return lambda lr: lr
    """,
}


@pytest.fixture
def adapters_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "adapters_pkg"
    folder.mkdir()
    for name, code in ADAPTERS.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in ADAPTERS:
        sys.modules.pop(name, None)
