"""The prepared device job rehearsed on CPU: pack a small payload, train both scales with tiny steps,
export the four weight files, score them, and return at most 8 files (the device's limit)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_device_job_dry_run(data_root):
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "device" / "job.py"), "--dry-run", "--data-root", str(data_root)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "dry run ok" in proc.stdout
    assert '"total_mib"' in proc.stdout
