"""The extras never break a CPU install: resolved beside the installed CPU torch, `pip install
'.[test,metrics,spandrel,zoo]'` adds no other torch, no torchvision and no CUDA wheel (the
spandrel extra used to pull torchvision 0.28, whose CUDA ops break `import torchmetrics`)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FORBIDDEN = ("torch", "torchvision", "torchaudio", "triton")


def test_the_extras_resolve_without_another_torch_or_cuda_wheels(tmp_path):
    pytest.importorskip("torch")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
         f"{ROOT}[test,metrics,spandrel,zoo]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = sorted(i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"])
    bad = [n for n in names if n in FORBIDDEN or n.startswith("nvidia-")]
    assert not bad, f"the extras would install {bad}"
    assert "srfacebench" in names  # the resolution did run
